//! Whether a process group listens on a TCP port, read from Linux's `/proc`: the group's
//! processes (`/proc/PID/stat`), their socket inodes (`/proc/PID/fd`), and the listening
//! sockets (`/proc/PID/net/tcp`, `tcp6`, state `0A`) of each network namespace they are in
//! (a sandboxed command has one of its own). `bash` uses it to move a server the model
//! started in the foreground to the background instead of blocking until the cap.

use std::collections::{HashMap, HashSet};
use std::fs;

/// The TCP ports the processes of group `group` listen on (empty where `/proc` is absent).
pub(crate) fn listening_ports(group: i32) -> Vec<u16> {
    let (inodes, namespaces) = socket_inodes(group);
    if inodes.is_empty() {
        return Vec::new();
    }
    let mut ports: Vec<u16> = namespaces
        .values()
        .flat_map(|pid| ["tcp", "tcp6"].map(|table| format!("/proc/{pid}/net/{table}")))
        .filter_map(|table| fs::read_to_string(table).ok())
        .flat_map(|text| listening_in(&text, &inodes))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Socket inodes held open by the processes of `group`, and one process holding sockets in
/// each network namespace (by the namespace's link, e.g. `net:[4026531840]`).
fn socket_inodes(group: i32) -> (HashSet<u64>, HashMap<String, String>) {
    let mut inodes = HashSet::new();
    let mut namespaces = HashMap::new();
    let Ok(procs) = fs::read_dir("/proc") else {
        return (inodes, namespaces);
    };
    for entry in procs.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let in_group = fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|stat| group_of(&stat))
            == Some(group);
        if !in_group {
            continue;
        }
        let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        let before = inodes.len();
        for fd in fds.flatten() {
            if let Ok(target) = fs::read_link(fd.path())
                && let Some(inode) = target
                    .to_str()
                    .and_then(|t| t.strip_prefix("socket:["))
                    .and_then(|t| t.strip_suffix(']'))
                    .and_then(|t| t.parse().ok())
            {
                inodes.insert(inode);
            }
        }
        if inodes.len() > before
            && let Ok(namespace) = fs::read_link(format!("/proc/{pid}/ns/net"))
        {
            namespaces
                .entry(namespace.to_string_lossy().into_owned())
                .or_insert_with(|| pid.to_owned());
        }
    }
    (inodes, namespaces)
}

/// The process group in a `/proc/PID/stat` line (the command name, in parentheses, may hold
/// spaces: fields are counted after its closing parenthesis).
fn group_of(stat: &str) -> Option<i32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(2)?.parse().ok()
}

/// Ports of listening sockets in a `/proc/net/tcp` table whose inode is in `inodes`.
fn listening_in(table: &str, inodes: &HashSet<u64>) -> Vec<u16> {
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            if *state != "0A" || !inodes.contains(&inode.parse().ok()?) {
                return None;
            }
            u16::from_str_radix(local.rsplit(':').next()?, 16).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_with_spaces_in_the_name_gives_its_group() {
        assert_eq!(
            group_of("4242 (my server (x)) S 1 4240 4240 0 -1"),
            Some(4240)
        );
    }

    #[test]
    fn only_listening_sockets_of_the_group_count() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:1F91 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:C350 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 111 1 0000000000000000 100 0 0 10 0
";
        let inodes: HashSet<u64> = [111].into_iter().collect();
        assert_eq!(listening_in(table, &inodes), vec![8080]);
    }

    #[test]
    fn a_real_listener_is_found() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let group = nix::unistd::getpgrp().as_raw();
        assert!(listening_ports(group).contains(&port));
    }
}
