//! Tape behaviour end to end: round trip, torn tails, middle corruption, versions,
//! the checkpoint tree with rewinds, index rebuild, redaction on disk, locks.

use std::fs::{self, OpenOptions};
use std::io::Write;

use baton_tape::{
    At, Body, CheckpointId, Placement, StateBlob, StateReader, StepNo, Tape, TapeError, TapeHeader,
    TapeOptions, TapeWriter, ThreadId, ThreadLock, ThreadPaths, read_header,
};
use serde_json::{Value, json};

fn new_thread(project: &std::path::Path) -> (ThreadPaths, TapeWriter<Value>) {
    let id = ThreadId::new("t-test").unwrap();
    let paths = ThreadPaths::new(project, &id);
    let header = TapeHeader::new(id, "two-agent", project.display().to_string());
    let options = TapeOptions {
        append_only: vec!["/conversation".into()],
        ..TapeOptions::default()
    };
    let writer = TapeWriter::create(&paths, &header, options).unwrap();
    (paths, writer)
}

fn state(messages: u64, passing: bool) -> Value {
    json!({
        "conversation": (0..messages).map(|i| json!({"role": "user", "content": format!("message {i}")})).collect::<Vec<_>>(),
        "features": [{"id": "F1", "passes": passing}],
        "step": messages,
    })
}

/// Writes steps 1..=n, each an event and a checkpoint; returns the checkpoint ids.
fn write_steps(
    writer: &mut TapeWriter<Value>,
    range: std::ops::RangeInclusive<u64>,
) -> Vec<CheckpointId> {
    range
        .map(|step| {
            writer
                .append(StepNo(step), json!({"kind": "model", "answer": step}))
                .unwrap();
            writer
                .checkpoint(StepNo(step), &state(step, step.is_multiple_of(3)), None)
                .unwrap()
        })
        .collect()
}

#[test]
fn round_trip_events_and_states() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    let ids = write_steps(&mut writer, 1..=20);
    writer
        .append(StepNo(21), json!({"kind": "model", "answer": "pending"}))
        .unwrap();
    writer.sync().unwrap();
    assert_eq!(writer.head().unwrap().state, state(20, false));
    drop(writer);

    let (tape, recovery) = Tape::<Value>::open(&paths.tape).unwrap();
    assert!(recovery.is_none());
    assert_eq!(tape.header().thread.as_str(), "t-test");
    assert_eq!(tape.records().len(), 41);
    assert_eq!(tape.checkpoints().count(), 20);
    for (i, id) in ids.iter().enumerate() {
        let step = i as u64 + 1;
        assert_eq!(
            tape.state_at(*id).unwrap(),
            state(step, step.is_multiple_of(3))
        );
        assert_eq!(
            tape.state_at(StepNo(step)).unwrap(),
            state(step, step.is_multiple_of(3))
        );
        let events = tape.events_after(*id).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].step, StepNo(step + 1));
    }
    assert_eq!(tape.tail_events().len(), 1);
    assert_eq!(tape.tail_events()[0].event().unwrap()["answer"], "pending");
    // The first checkpoint carries a full state; nearly all others are small deltas.
    let fulls: Vec<bool> = tape
        .checkpoints()
        .map(|cp| matches!(cp.state, StateBlob::Full(_)))
        .collect();
    assert!(fulls[0]);
    assert!(fulls.iter().filter(|f| **f).count() <= 2, "{fulls:?}");

    // Reopening reads the index, the head's chain and the tail; with the index gone it
    // reads the whole tape. Both give the same head and the same unfinished step's events.
    for index_present in [true, false] {
        if !index_present {
            fs::remove_file(&paths.index).unwrap();
        }
        let resumed = TapeWriter::<Value>::open(&paths, TapeOptions::default()).unwrap();
        let head = resumed.writer.head().unwrap();
        assert_eq!(head.checkpoint, ids[19]);
        assert_eq!(head.state, state(20, false));
        assert_eq!(resumed.header.thread.as_str(), "t-test");
        assert_eq!(resumed.tail, tape.tail_events());
        assert!(resumed.recovery.is_none());
    }

    // Read lazily, every state is the same value.
    let reader = StateReader::open(&paths).unwrap();
    for step in 1..=20 {
        let raw = reader.raw_state_at(StepNo(step)).unwrap();
        let expected = state(step, step.is_multiple_of(3));
        assert_eq!(raw.to_value().unwrap(), expected);
        assert_eq!(
            serde_json::from_str::<Value>(&raw.to_json().unwrap()).unwrap(),
            expected
        );
    }
}

#[test]
fn the_reader_gives_header_steps_and_last_record_from_the_ends_of_the_tape() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    let ids = write_steps(&mut writer, 1..=5);
    let reader = StateReader::open(&paths).unwrap();
    assert_eq!(reader.header().thread.as_str(), "t-test");
    assert_eq!(&read_header(&paths.tape).unwrap(), reader.header());
    assert_eq!(reader.step_of(ids[3]).unwrap(), StepNo(4));
    let last = reader.last_record::<Value>().unwrap().unwrap();
    assert_eq!(last.checkpoint().map(|cp| cp.id), Some(ids[4]));

    // Events after the last checkpoint, then a torn line: the last whole event counts.
    writer.append(StepNo(6), json!({"kind": "model"})).unwrap();
    writer.append(StepNo(6), json!({"kind": "error"})).unwrap();
    drop(writer);
    OpenOptions::new()
        .append(true)
        .open(&paths.tape)
        .unwrap()
        .write_all(b"{\"seq\": 99, \"st")
        .unwrap();
    let reader = StateReader::open(&paths).unwrap();
    let last = reader.last_record::<Value>().unwrap().unwrap();
    assert_eq!(last.event(), Some(&json!({"kind": "error"})));
}

#[test]
fn torn_tail_is_reported_and_repaired_when_opened_for_writing() {
    for tail in [
        &b"{\"seq\": 99, \"st"[..],
        b"\x00\xffgarbage\n{not json\n",
        b"{\"seq\":99}\n",
    ] {
        let dir = tempfile::tempdir().unwrap();
        let (paths, mut writer) = new_thread(dir.path());
        write_steps(&mut writer, 1..=5);
        drop(writer);
        let good_len = fs::metadata(&paths.tape).unwrap().len();
        OpenOptions::new()
            .append(true)
            .open(&paths.tape)
            .unwrap()
            .write_all(tail)
            .unwrap();

        let (tape, recovery) = Tape::<Value>::open(&paths.tape).unwrap();
        let recovery = recovery.expect("torn tail not reported");
        assert_eq!(recovery.dropped_bytes, tail.len() as u64);
        assert_eq!(recovery.kept_bytes, good_len);
        assert_eq!(tape.checkpoints().count(), 5);
        assert_eq!(
            fs::metadata(&paths.tape).unwrap().len(),
            good_len + tail.len() as u64,
            "read-only open truncated"
        );

        let mut resumed = TapeWriter::<Value>::open(&paths, TapeOptions::default()).unwrap();
        assert!(resumed.recovery.is_some());
        assert_eq!(fs::metadata(&paths.tape).unwrap().len(), good_len);
        write_steps(&mut resumed.writer, 6..=7);
        drop(resumed);
        let (tape, recovery) = Tape::<Value>::open(&paths.tape).unwrap();
        assert!(recovery.is_none());
        assert_eq!(tape.state_at(StepNo(7)).unwrap(), state(7, false));
    }
}

#[test]
fn a_cut_last_line_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    write_steps(&mut writer, 1..=3);
    drop(writer);
    let len = fs::metadata(&paths.tape).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&paths.tape)
        .unwrap()
        .set_len(len - 10)
        .unwrap();
    let (tape, recovery) = Tape::<Value>::open(&paths.tape).unwrap();
    assert_eq!(recovery.unwrap().dropped_lines, 1);
    assert_eq!(tape.checkpoints().count(), 2);
}

#[test]
fn corruption_in_the_middle_is_an_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    write_steps(&mut writer, 1..=3);
    drop(writer);
    let text = fs::read_to_string(&paths.tape).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines[3] = "{ this is not a record";
    fs::write(&paths.tape, lines.join("\n") + "\n").unwrap();
    let err = Tape::<Value>::open(&paths.tape).unwrap_err();
    assert!(matches!(err, TapeError::Corrupt { line: 4, .. }), "{err}");
    assert!(err.to_string().contains("line 4"), "{err}");
    assert!(TapeWriter::<Value>::open(&paths, TapeOptions::default()).is_err());
    assert_eq!(
        fs::read_to_string(&paths.tape).unwrap(),
        lines.join("\n") + "\n",
        "the file was modified"
    );
}

#[test]
fn unknown_version_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tape.jsonl");
    fs::write(&path, "{\"baton_tape\": 7, \"thread\": \"x\"}\n").unwrap();
    let err = Tape::<Value>::open(&path).unwrap_err().to_string();
    assert!(
        err.contains("version 7") && err.contains("reads version 1"),
        "{err}"
    );
    fs::write(&path, "not a tape\n").unwrap();
    assert!(matches!(
        Tape::<Value>::open(&path),
        Err(TapeError::BadHeader { .. })
    ));
}

#[test]
fn rewind_keeps_the_abandoned_branch_and_follows_the_live_one() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    let ids = write_steps(&mut writer, 1..=6);
    let head = writer.rewind(ids[2]).unwrap();
    assert_eq!(head.state, state(3, true));
    assert_eq!(head.step, StepNo(3));
    // A different future from step 3.
    let alt = json!({"conversation": [], "features": [], "step": "alternative"});
    let alt_id = writer.checkpoint(StepNo(4), &alt, None).unwrap();
    drop(writer);

    let (tape, _) = Tape::<Value>::open(&paths.tape).unwrap();
    assert_eq!(
        tape.checkpoints().count(),
        7,
        "abandoned checkpoints must stay on the tape"
    );
    assert!(
        tape.records()
            .iter()
            .any(|r| matches!(r.body, Body::Rewind(_)))
    );
    let live: Vec<CheckpointId> = tape.live_branch().iter().map(|cp| cp.id).collect();
    assert_eq!(live, vec![ids[0], ids[1], ids[2], alt_id]);
    assert_eq!(tape.head().unwrap().id, alt_id);
    assert_eq!(tape.state_at(StepNo(4)).unwrap(), alt);
    assert_eq!(
        tape.state_at(StepNo(6)).unwrap(),
        alt,
        "step 6 of the live branch is the alternative"
    );
    assert_eq!(
        tape.state_at(ids[5]).unwrap(),
        state(6, true),
        "abandoned states stay readable by id"
    );
    let reader = StateReader::open(&paths).unwrap();
    assert_eq!(reader.state_at(StepNo(5)).unwrap(), alt);
    assert_eq!(reader.state_at(StepNo(2)).unwrap(), state(2, false));
    assert_eq!(
        reader.state_at(At::Checkpoint(ids[4])).unwrap(),
        state(5, false)
    );

    // Resuming after a rewind continues from the alternative.
    let resumed = TapeWriter::<Value>::open(&paths, TapeOptions::default()).unwrap();
    assert_eq!(resumed.writer.head().unwrap().checkpoint, alt_id);
}

#[test]
fn records_are_placed_on_the_branch_of_the_step_they_were_made_in() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    let ids = write_steps(&mut writer, 1..=3);
    // Made during step 4 (closed by the old checkpoint 4, abandoned), then step 5 is left
    // open (abandoned by the rewind before it reached a checkpoint).
    let in_old_step = writer.next_seq();
    let old = write_steps(&mut writer, 4..=4);
    let in_open_step = writer.append(StepNo(5), json!("event")).unwrap();
    writer.rewind(ids[1]).unwrap();
    let in_new_step = writer.next_seq();
    let new = writer.checkpoint(StepNo(3), &state(9, true), None).unwrap();
    let now_open = writer.next_seq();
    writer.sync().unwrap();
    drop(writer);

    let reader = StateReader::open(&paths).unwrap();
    let live: Vec<CheckpointId> = reader.live_checkpoints().iter().map(|c| c.id).collect();
    assert_eq!(live, vec![ids[0], ids[1], new]);
    assert_eq!(reader.placement(in_old_step), Placement::Closed(old[0]));
    assert_eq!(reader.placement(in_open_step), Placement::Rewound);
    assert_eq!(reader.placement(in_new_step), Placement::Closed(new));
    assert_eq!(reader.placement(now_open), Placement::Open);
    assert_eq!(reader.branch_to(ids[2]), ids);
    assert_eq!(reader.branch_to(new), live);
}

/// The state at `step` read through a freshly opened reader (which checks or rebuilds the index).
fn read_at(paths: &ThreadPaths, step: u64) -> Value {
    StateReader::open(paths)
        .unwrap()
        .state_at(StepNo(step))
        .unwrap()
}

#[test]
fn index_is_rebuilt_when_missing_stale_or_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    write_steps(&mut writer, 1..=30);
    drop(writer);
    let original = fs::read(&paths.index).unwrap();
    let header_len = original.iter().position(|&b| b == b'\n').unwrap() + 1;
    assert!(original.starts_with(b"baton-index 2 "));
    let entry_len = (original.len() - header_len) / 30;
    assert_eq!(header_len + 30 * entry_len, original.len());
    let entries = |n: usize| original[..header_len + n * entry_len].to_vec();

    fs::remove_file(&paths.index).unwrap();
    assert_eq!(read_at(&paths, 17), state(17, false));
    assert_eq!(fs::read(&paths.index).unwrap(), original);

    // Stale: the last entries are missing (a crash between the tape's fsync and the index write).
    fs::write(&paths.index, entries(20)).unwrap();
    assert_eq!(read_at(&paths, 30), state(30, true));
    assert_eq!(fs::read(&paths.index).unwrap(), original);

    // Torn: a crash in the middle of appending an entry.
    let mut torn = entries(20);
    torn.extend_from_slice(&original[torn.len()..torn.len() + 7]);
    fs::write(&paths.index, &torn).unwrap();
    assert_eq!(read_at(&paths, 30), state(30, true));
    assert_eq!(fs::read(&paths.index).unwrap(), original);

    // Corrupt: an offset pointing past the tape, zeros where entries were (a power loss
    // before the file's blocks were written), garbage, and an index of another format.
    let mut far = original.clone();
    // Entry 2's offset: after its kind byte, seq and step.
    let offset = header_len + entry_len + 17;
    far[offset..offset + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    let mut zeros = original.clone();
    zeros[header_len + 25 * entry_len..].fill(0);
    let created = String::from_utf8(original[14..header_len - 1].to_vec()).unwrap();
    let version_1 = format!("baton-index 1 {created}\nF 2 1 200 100 -\n").into_bytes();
    for bad in [far, zeros, b"garbage".to_vec(), version_1] {
        fs::write(&paths.index, &bad).unwrap();
        assert_eq!(read_at(&paths, 9), state(9, true));
        assert_eq!(fs::read(&paths.index).unwrap(), original);
    }

    // A writer resumed over a torn index appends after whole entries only.
    fs::write(&paths.index, &torn).unwrap();
    let mut resumed = TapeWriter::<Value>::open(&paths, TapeOptions::default())
        .unwrap()
        .writer;
    write_steps(&mut resumed, 31..=32);
    drop(resumed);
    assert_eq!(
        fs::read(&paths.index).unwrap().len(),
        original.len() + 2 * entry_len
    );
    assert_eq!(read_at(&paths, 32), state(32, false));
}

#[test]
fn full_states_are_written_by_policy() {
    let dir = tempfile::tempdir().unwrap();
    let id = ThreadId::new("t-policy").unwrap();
    let paths = ThreadPaths::new(dir.path(), &id);
    let options = TapeOptions {
        max_delta_chain: 4,
        ..TapeOptions::default()
    };
    let mut writer =
        TapeWriter::<Value>::create(&paths, &TapeHeader::new(id, "w", "p"), options).unwrap();
    write_steps(&mut writer, 1..=10);
    // A state replaced wholesale every step: the deltas weigh more than the state.
    for step in 11..=20 {
        writer
            .checkpoint(
                StepNo(step),
                &json!({"blob": "x".repeat(4000 + step as usize)}),
                None,
            )
            .unwrap();
    }
    drop(writer);
    let (tape, _) = Tape::<Value>::open(&paths.tape).unwrap();
    let kinds: String = tape
        .checkpoints()
        .map(|cp| {
            if matches!(cp.state, StateBlob::Full(_)) {
                'F'
            } else {
                'D'
            }
        })
        .collect();
    assert_eq!(&kinds[..10], "FDDDDFDDDD");
    assert!(kinds[10..].matches('F').count() >= 3, "{kinds}");
    for step in 1..=20 {
        StateReader::open(&paths)
            .unwrap()
            .state_at(StepNo(step))
            .unwrap();
    }
}

#[test]
fn secrets_never_reach_the_file() {
    if std::env::var_os("BATON_TAPE_REDACTION_CHILD").is_none() {
        // The environment can only be set for a child process (set_var is unsafe).
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "secrets_never_reach_the_file",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("BATON_TAPE_REDACTION_CHILD", "1")
            .env("MY_SERVICE_TOKEN", "tok-1234567890-env-secret")
            .status()
            .unwrap();
        assert!(status.success());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    writer
        .append(
            StepNo(1),
            json!({
                "prompt": "use sk-proj-abcdefghijklmnopqrstuvwx please",
                "headers": {"Authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.payload"},
                "tool_output": "export MY_SERVICE_TOKEN=tok-1234567890-env-secret",
                "usage": {"prompt_tokens": 321},
            }),
        )
        .unwrap();
    let mut secret_state = state(1, false);
    secret_state["settings"] = json!({"api_key": "plain-api-key-value"});
    writer.checkpoint(StepNo(1), &secret_state, None).unwrap();
    secret_state["settings"]["password"] = json!("hunter2hunter2");
    writer.checkpoint(StepNo(2), &secret_state, None).unwrap();
    drop(writer);
    let text = fs::read_to_string(&paths.tape).unwrap();
    for secret in [
        "sk-proj-abcdefghijklmnopqrstuvwx",
        "eyJhbGciOiJIUzI1NiJ9",
        "tok-1234567890-env-secret",
        "plain-api-key-value",
        "hunter2hunter2",
    ] {
        assert!(!text.contains(secret), "{secret} reached the tape:\n{text}");
    }
    let (tape, _) = Tape::<Value>::open(&paths.tape).unwrap();
    assert_eq!(
        tape.records()[0].event().unwrap()["usage"]["prompt_tokens"],
        321
    );
    assert_eq!(
        tape.state_at(StepNo(2)).unwrap()["settings"]["password"],
        "[REDACTED]"
    );
}

#[test]
fn a_held_lock_refuses_a_second_runner_and_a_stale_one_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let paths = ThreadPaths::new(dir.path(), &ThreadId::new("t-lock").unwrap());
    let lock = ThreadLock::acquire(&paths).unwrap();
    let err = ThreadLock::acquire(&paths).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(err, TapeError::Locked { pid, .. } if pid == std::process::id().cast_signed())
    );
    assert!(
        text.contains("already being run by process") && text.contains("wait for it or stop it"),
        "{text}"
    );
    assert!(ThreadLock::holder(&paths).unwrap().unwrap().is_alive());
    drop(lock);
    assert!(!paths.lock.exists(), "lock not released on drop");

    // A lock left by a process that is gone (kill -9).
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id().cast_signed();
    child.wait().unwrap();
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned();
    let stale = json!({"pid": dead_pid, "host": host, "started": "2026-01-01T00:00:00Z"});
    fs::write(&paths.lock, stale.to_string()).unwrap();
    assert!(
        !ThreadLock::holder(&paths).unwrap().unwrap().is_alive(),
        "shows as interrupted"
    );
    let lock = ThreadLock::acquire(&paths).unwrap();
    assert_eq!(lock.holder_info().pid, std::process::id().cast_signed());
}

#[test]
fn a_tape_deleted_while_open_is_written_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    let lock = ThreadLock::acquire(&paths).unwrap();
    write_steps(&mut writer, 1..=5);
    assert!(
        !writer.relink().unwrap(),
        "nothing to do while the files are there"
    );
    // What `rm -rf .baton` (or `git clean -fdx`) run by the agent does.
    fs::remove_dir_all(dir.path().join(".baton")).unwrap();
    assert!(writer.relink().unwrap());
    lock.relink().unwrap();
    write_steps(&mut writer, 6..=8);
    writer.sync().unwrap();
    assert!(ThreadLock::holder(&paths).unwrap().is_some());
    drop(writer);
    let (tape, recovery) = Tape::<Value>::open(&paths.tape).unwrap();
    assert!(recovery.is_none());
    assert_eq!(tape.checkpoints().count(), 8);
    assert_eq!(tape.state_at(StepNo(8)).unwrap(), state(8, false));
    let resumed = TapeWriter::<Value>::open(&paths, TapeOptions::default()).unwrap();
    assert_eq!(resumed.writer.head().unwrap().state, state(8, false));

    // A tape replaced by another file is put back too.
    let mut writer = resumed.writer;
    fs::remove_file(&paths.tape).unwrap();
    fs::write(&paths.tape, "garbage\n").unwrap();
    assert!(writer.relink().unwrap());
    let (tape, _) = Tape::<Value>::open(&paths.tape).unwrap();
    assert_eq!(tape.checkpoints().count(), 8);
}

#[test]
fn the_index_gives_the_live_steps_and_their_events_without_parsing_the_tape() {
    let dir = tempfile::tempdir().unwrap();
    let (paths, mut writer) = new_thread(dir.path());
    let ids = write_steps(&mut writer, 1..=5);
    writer.rewind(ids[1]).unwrap();
    writer
        .append(
            StepNo(3),
            json!({"kind": "model", "answer": "after the rewind"}),
        )
        .unwrap();
    writer
        .append(StepNo(3), json!({"kind": "tool", "ok": true}))
        .unwrap();
    let alt = writer
        .checkpoint(StepNo(3), &state(1, false), None)
        .unwrap();
    writer
        .append(StepNo(4), json!({"kind": "model", "answer": "in flight"}))
        .unwrap();
    writer.sync().unwrap();
    drop(writer);

    let (tape, _) = Tape::<Value>::open(&paths.tape).unwrap();
    let reader = StateReader::open(&paths).unwrap();
    let live = reader.live_checkpoints();
    let expected: Vec<CheckpointId> = tape.live_branch().iter().map(|cp| cp.id).collect();
    assert_eq!(live.iter().map(|c| c.id).collect::<Vec<_>>(), expected);
    assert_eq!(expected, vec![ids[0], ids[1], alt]);
    assert_eq!(reader.checkpoint_count(), tape.checkpoints().count());

    let spans: Vec<_> = live.iter().map(|c| c.events.clone()).collect();
    let events = reader.read_events::<Value>(&spans).unwrap();
    let bodies = |records: &[baton_tape::Record<Value>]| -> Vec<Value> {
        records
            .iter()
            .map(|r| match &r.body {
                Body::Event(e) => e.clone(),
                other => panic!("not an event: {other:?}"),
            })
            .collect()
    };
    assert_eq!(
        bodies(&events[0]),
        vec![json!({"kind": "model", "answer": 1})]
    );
    assert_eq!(
        bodies(&events[1]),
        vec![json!({"kind": "model", "answer": 2})]
    );
    assert_eq!(
        bodies(&events[2]),
        vec![
            json!({"kind": "model", "answer": "after the rewind"}),
            json!({"kind": "tool", "ok": true})
        ],
        "the step after a rewind has the events written after it, not the abandoned ones"
    );
    // The same through a rebuilt index.
    fs::remove_file(&paths.index).unwrap();
    let rebuilt = StateReader::open(&paths).unwrap();
    assert_eq!(rebuilt.live_checkpoints(), live);
}
