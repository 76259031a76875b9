//! Reading what Lakepass wrote into a [`TempHome`]: `~/.databrickscfg` profiles and vault
//! entries, parsed the way the Databricks tools read them, not with Lakepass's own code.

use std::collections::BTreeMap;

use crate::TempHome;

impl TempHome {
    /// `~/.databrickscfg` as text (empty when missing).
    pub fn databrickscfg_text(&self) -> String {
        std::fs::read_to_string(self.databrickscfg()).unwrap_or_default()
    }

    /// The value of `key` in `[profile]` of `~/.databrickscfg`.
    pub fn profile_value(&self, profile: &str, key: &str) -> Option<String> {
        ini_value(&self.databrickscfg_text(), profile, key)
    }

    /// One vault entry (e.g. `idp:devstack`), parsed from its JSON string.
    pub fn vault_entry(&self, key: &str) -> Option<serde_json::Value> {
        let raw = std::fs::read_to_string(self.vault_path()).ok()?;
        let entries: BTreeMap<String, String> = serde_json::from_str(&raw).ok()?;
        serde_json::from_str(entries.get(key)?).ok()
    }
}

/// Minimal INI lookup (as Python's configparser reads `key = value`).
pub fn ini_value(text: &str, profile: &str, key: &str) -> Option<String> {
    let mut in_section = false;
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('[') && t.ends_with(']') {
            in_section = &t[1..t.len() - 1] == profile;
        } else if in_section
            && !t.starts_with(';')
            && !t.starts_with('#')
            && let Some((k, v)) = t.split_once('=')
            && k.trim() == key
        {
            return Some(v.trim().to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_value_reads_sections() {
        let text = "[a]\nhost = x\n[b]\n; c\nhost= y\ntoken =z\n";
        assert_eq!(ini_value(text, "b", "host").as_deref(), Some("y"));
        assert_eq!(ini_value(text, "b", "token").as_deref(), Some("z"));
        assert_eq!(ini_value(text, "c", "host"), None);
    }
}
