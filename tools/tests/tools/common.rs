//! Test fixture shared by every integration test: a temporary project (with harness
//! state folders and a folder outside it to try to escape into) and a standard tool box.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use baton_tools::{Jail, ToolBox, ToolConfig, ToolOutput};
use serde_json::Value;
use tempfile::TempDir;

pub struct Project {
    /// Owned so the project folder lives exactly as long as the fixture.
    _dir: TempDir,
    pub outside: TempDir,
    pub jail: Arc<Jail>,
    pub tools: ToolBox,
}

impl Project {
    pub fn new() -> Self {
        Self::with_config(ToolConfig::default())
    }

    pub fn with_config(config: ToolConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join(".git")).unwrap();
        fs::write(dir.path().join(".git/config"), "[core]\n").unwrap();
        fs::create_dir_all(dir.path().join(".baton")).unwrap();
        fs::write(outside.path().join("secret.txt"), "outside secret\n").unwrap();
        let jail = Arc::new(Jail::new(dir.path()).unwrap());
        let tools = ToolBox::standard(jail.clone(), config);
        Self {
            _dir: dir,
            outside,
            jail,
            tools,
        }
    }

    pub fn root(&self) -> &Path {
        self.jail.root()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let path = self.path(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.path(rel)).unwrap()
    }

    /// A symlink at `rel` inside the project pointing at `target`.
    pub fn symlink(&self, target: &Path, rel: &str) {
        std::os::unix::fs::symlink(target, self.path(rel)).unwrap();
    }

    pub fn call(&self, tool: &str, args: &Value) -> ToolOutput {
        self.tools.call(tool, &args.to_string())
    }

    /// Calls a tool that must succeed and returns what the model sees.
    pub fn ok(&self, tool: &str, args: &Value) -> String {
        let output = self.call(tool, args);
        assert!(output.ok, "{tool} {args} failed: {}", output.content);
        output.content
    }

    /// Calls a tool that must fail and returns its error text.
    pub fn err(&self, tool: &str, args: &Value) -> String {
        let output = self.call(tool, args);
        assert!(
            !output.ok,
            "{tool} {args} should have failed but gave: {}",
            output.content
        );
        assert!(
            output.touched.is_empty(),
            "a failed call reported touching {:?}",
            output.touched
        );
        output.content
    }
}

/// A marker for a test's processes, unique to this test process.
pub fn token(name: &str) -> String {
    format!("baton-test-{}-{name}", std::process::id())
}

/// The pid (as seen here) of a live process whose command line holds `token`. A sandboxed
/// command's own `$$` is a pid of its namespace, so tests find its processes by what they run.
pub fn find_pid(token: &str) -> Option<u32> {
    fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let zombie = stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
        (String::from_utf8_lossy(&cmdline).contains(token) && !zombie).then_some(pid)
    })
}
