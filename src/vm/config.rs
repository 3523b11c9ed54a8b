//! The driver's configuration file (`--config FILE`, reference §1.3): the machines a test
//! has, its containers and whether the SSH backdoor is on. Nix writes it and the driver
//! reads it before any machine starts, so unlike the log it says what the test really is.

use std::ffi::OsString;

use super::classify::is_name;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DriverConfig {
    /// QEMU machines, by name (the JSON's keys).
    pub vms: Vec<String>,
    /// systemd-nspawn containers, by name.
    pub containers: Vec<String>,
    pub ssh_backdoor: bool,
}

impl DriverConfig {
    /// Reads the JSON the current driver takes. Names that no driver would accept are left
    /// out; a document without `vms` is not a driver configuration.
    pub fn parse(json: &str) -> Option<Self> {
        let v: serde_json::Value = serde_json::from_str(json).ok()?;
        let names = |key: &str| -> Vec<String> {
            let mut names: Vec<String> = v
                .get(key)
                .and_then(|m| m.as_object())
                .map(|m| m.keys().filter(|k| is_name(k)).cloned().collect())
                .unwrap_or_default();
            names.sort();
            names
        };
        v.get("vms")?.as_object()?;
        Some(Self {
            vms: names("vms"),
            containers: names("containers"),
            ssh_backdoor: v
                .get("enable_ssh_backdoor")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
        })
    }

    /// Every machine, containers included, sorted by name as the driver sorts them.
    pub fn machines(&self) -> Vec<String> {
        let mut all: Vec<String> = self.vms.iter().chain(&self.containers).cloned().collect();
        all.sort();
        all.dedup();
        all
    }

    pub fn is_container(&self, name: &str) -> bool {
        self.containers.iter().any(|c| c == name)
    }
}

/// The `--config FILE` (or `-c FILE`, `--config=FILE`) of a command line.
pub fn config_argument(argv: &[OsString]) -> Option<OsString> {
    let mut words = argv.iter();
    while let Some(w) = words.next() {
        let s = w.to_string_lossy();
        if s == "--config" || s == "-c" {
            return words.next().cloned();
        }
        if let Some(path) = s.strip_prefix("--config=") {
            return Some(path.into());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_drivers_document() {
        let c = DriverConfig::parse(
            r#"{"vms": {"server": {"name": "server", "start_script": "/nix/store/x/bin/run-server-vm"},
                        "client": {"name": "client", "start_script": "/nix/store/y/bin/run-client-vm"}},
                "containers": {"c1": {"name": "c1", "start_script": ".../bin/run-c1-nspawn"}},
                "vlans": [1], "global_timeout": 3600, "enable_ssh_backdoor": true,
                "test_script": "/nix/store/z-test-script"}"#,
        )
        .unwrap();
        assert_eq!(c.vms, ["client", "server"]);
        assert_eq!(c.containers, ["c1"]);
        assert!(c.ssh_backdoor);
        assert_eq!(c.machines(), ["c1", "client", "server"]);
        assert!(c.is_container("c1") && !c.is_container("server"));
    }

    #[test]
    fn odd_documents() {
        assert_eq!(DriverConfig::parse("[]"), None);
        assert_eq!(DriverConfig::parse("{\"containers\": {}}"), None);
        let c = DriverConfig::parse(r#"{"vms": {"ok": {}, "bad name; rm": {}, "": {}}}"#).unwrap();
        assert_eq!(c.vms, ["ok"]);
        assert!(!c.ssh_backdoor);
    }

    #[test]
    fn config_arguments() {
        let argv = |s: &str| -> Vec<OsString> { s.split(' ').map(OsString::from).collect() };
        assert_eq!(
            config_argument(&argv(
                "python3 /nix/store/x/bin/.nixos-test-driver-wrapped --config /nix/store/c.json --log-level info"
            )),
            Some("/nix/store/c.json".into())
        );
        assert_eq!(
            config_argument(&argv("d -c /a.json")),
            Some("/a.json".into())
        );
        assert_eq!(
            config_argument(&argv("d --config=/b.json")),
            Some("/b.json".into())
        );
        assert_eq!(config_argument(&argv("d -I")), None);
    }
}
