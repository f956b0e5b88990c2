//! The policy's `[analytics]` section: which traffic is excluded from KPI rollups and how
//! synthetic traffic is recognised, the conversion window, the platform fee and its
//! rounding rule, and the tracking-gap test's threshold and minimum volume. Every key has
//! the contract's default, so an absent section is the contract.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::money::{Rounding, rate_fraction};
use crate::input::Millis;
use crate::time::parse_duration;

/// The `[analytics]` section of a policy file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalyticsPolicy {
    /// Exclude persons with at least one synthetic event from KPI rollups.
    pub exclude_synthetic: bool,
    /// Exclude persons whose every event is in the canary cohort from KPI rollups.
    pub exclude_canary_only: bool,
    /// Substrings of `user_agent` that mark an event synthetic (case-sensitive).
    pub synthetic_user_agents: Vec<String>,
    /// `key=value` query parameters of `page_url` that mark an event synthetic.
    pub synthetic_url_params: Vec<String>,
    /// The conversion window, measured from each visit (e.g. `24h`, `30m`).
    pub conversion_window: String,
    /// The platform fee as a fraction of the gross (`0.03` is 3 %).
    pub fee_rate: f64,
    /// How a fee between two minor units is rounded: `half_up`, `half_down`,
    /// `half_even`, `half_away_from_zero`, `floor` or `ceil`.
    pub fee_rounding: Rounding,
    /// A tracking gap is a canary conversion with z below this.
    pub gap_z: f64,
    /// Both cohorts need at least this many persons at the previous step.
    pub gap_min_n: u64,
    /// `paid_acquisition`: the `utm_medium` values of paid traffic (compared in lower
    /// case), which must stay paused until the first stage at 100 % of traffic.
    pub paid_mediums: Vec<String>,
    /// `lever_instrumentation`: the revenue-lever events the canary build must send,
    /// as `event` or `event@platform`.
    pub levers: Vec<String>,
    /// `lever_instrumentation`: a lever or event type the canary sends none of breaches
    /// when the baseline's rate per person predicts at least this many canary events.
    pub lever_min_expected: f64,
}

impl Default for AnalyticsPolicy {
    fn default() -> Self {
        Self {
            exclude_synthetic: true,
            exclude_canary_only: true,
            synthetic_user_agents: vec!["SyntheticCanary".into(), "DatadogSynthetics".into()],
            synthetic_url_params: vec!["e2e=1".into()],
            conversion_window: "24h".into(),
            fee_rate: 0.03,
            fee_rounding: Rounding::HalfUp,
            gap_z: -3.0,
            gap_min_n: 30,
            paid_mediums: DEFAULT_PAID_MEDIUMS.iter().map(|s| s.to_string()).collect(),
            levers: DEFAULT_LEVERS.iter().map(|s| s.to_string()).collect(),
            lever_min_expected: 5.0,
        }
    }
}

/// The default `paid_mediums`.
pub const DEFAULT_PAID_MEDIUMS: [&str; 6] =
    ["cpc", "ppc", "paid", "paid_social", "display", "affiliate"];

/// The default `levers`: the pricing and credit purchase flows on each platform, the
/// abandon and retry events, and the B2B provider flow.
pub const DEFAULT_LEVERS: [&str; 8] = [
    "pricing_view@mobile",
    "pricing_view@desktop",
    "credit_purchase@mobile",
    "credit_purchase@desktop",
    "abandon",
    "retry",
    "provider_signup",
    "provider_onboarded",
];

/// The default section as TOML, with comments, for the default policy file.
pub const DEFAULT_ANALYTICS_TOML: &str = r#"[analytics]
# Exclude from KPI rollups (funnel, attribution, revenue, ARPU, free -> paid) persons
# with any synthetic event, and persons whose every event is in the canary cohort.
exclude_synthetic = true
exclude_canary_only = true
# An event is synthetic when test_mode is true, its user_agent contains one of these
# (case-sensitive), or its page_url query string has one of these key=value pairs.
synthetic_user_agents = ["SyntheticCanary", "DatadogSynthetics"]
synthetic_url_params = ["e2e=1"]
# Funnel steps count when they follow a visit within this window.
conversion_window = "24h"
# The platform fee per booking, and how a fee between two minor units is rounded:
# half_up, half_down, half_even, half_away_from_zero, floor or ceil.
fee_rate = 0.03
fee_rounding = "half_up"
# tracking_gap: a step whose canary conversion has z below gap_z against the baseline
# cohort's (two-proportion z-test), when both cohorts have gap_min_n persons or more.
gap_z = -3.0
gap_min_n = 30
# paid_acquisition: visits whose utm_medium is one of these (any case) before the first
# stage at 100 % of traffic breach its Go gate: paid traffic stays paused until then.
paid_mediums = ["cpc", "ppc", "paid", "paid_social", "display", "affiliate"]
# lever_instrumentation: these events (`event` or `event@platform`) must reach the
# canary build's analytics. A lever, or any event type the baseline build sends, that
# the canary sends none of breaches when the baseline's share of events predicts at
# least lever_min_expected canary events over the same span.
levers = ["pricing_view@mobile", "pricing_view@desktop", "credit_purchase@mobile", "credit_purchase@desktop", "abandon", "retry", "provider_signup", "provider_onboarded"]
lever_min_expected = 5.0
"#;

/// The keys of the section.
pub const KEYS: [&str; 12] = [
    "exclude_synthetic",
    "exclude_canary_only",
    "synthetic_user_agents",
    "synthetic_url_params",
    "conversion_window",
    "fee_rate",
    "fee_rounding",
    "gap_z",
    "gap_min_n",
    "paid_mediums",
    "levers",
    "lever_min_expected",
];

/// A policy problem, naming the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("policy key 'analytics.{key}': {problem}")]
pub struct AnalyticsPolicyError {
    pub key: String,
    pub problem: String,
}

fn bad(key: &str, problem: impl Into<String>) -> AnalyticsPolicyError {
    AnalyticsPolicyError {
        key: key.into(),
        problem: problem.into(),
    }
}

impl AnalyticsPolicy {
    /// Reads and checks an `[analytics]` table.
    pub fn from_table(table: &toml::Table) -> Result<Self, AnalyticsPolicyError> {
        // Key by key first, so that an error names the key it is about.
        for (key, value) in table {
            if !KEYS.contains(&key.as_str()) {
                return Err(bad(
                    key,
                    format!("unknown key; the section has {}", KEYS.join(", ")),
                ));
            }
            let mut one = toml::Table::new();
            one.insert(key.clone(), value.clone());
            if let Err(e) = toml::Value::Table(one).try_into::<AnalyticsPolicy>() {
                return Err(bad(key, e.message().to_string()));
            }
        }
        let p: AnalyticsPolicy = toml::Value::Table(table.clone())
            .try_into()
            .map_err(|e: toml::de::Error| bad("*", e.message().to_string()))?;
        p.check()?;
        Ok(p)
    }

    /// The `[analytics]` section of a policy file (other sections are left to the
    /// rollout policy); the default when the file has none.
    pub fn from_policy_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let table: toml::Table = toml::from_str(&text)
            .map_err(|e| format!("{}: not valid TOML: {e}", path.display()))?;
        match table.get("analytics") {
            None => Ok(Self::default()),
            Some(toml::Value::Table(t)) => {
                Self::from_table(t).map_err(|e| format!("{}: {e}", path.display()))
            }
            Some(other) => Err(format!(
                "{}: policy key 'analytics': expected a table, found {}",
                path.display(),
                other.type_str()
            )),
        }
    }

    /// The section of an optional policy file, then `analytics.KEY=VALUE` overrides (a
    /// value is read as TOML, or as a string when it is not TOML).
    pub fn build(file: Option<&Path>, sets: &[String]) -> Result<Self, String> {
        let mut table = toml::Table::new();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            let doc: toml::Table = toml::from_str(&text)
                .map_err(|e| format!("{}: not valid TOML: {e}", path.display()))?;
            match doc.get("analytics") {
                None => {}
                Some(toml::Value::Table(t)) => table = t.clone(),
                Some(other) => {
                    return Err(format!(
                        "{}: policy key 'analytics': expected a table, found {}",
                        path.display(),
                        other.type_str()
                    ));
                }
            }
            Self::from_table(&table).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        for set in sets {
            let (key, value) = set
                .split_once('=')
                .ok_or_else(|| format!("--set `{set}`: expected KEY=VALUE"))?;
            let key = key.trim().strip_prefix("analytics.").ok_or_else(|| {
                format!("--set `{set}`: this command takes analytics keys, e.g. analytics.conversion_window=30m")
            })?;
            let value = value.trim();
            let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                .ok()
                .and_then(|mut t| t.remove("v"))
                .unwrap_or_else(|| toml::Value::String(value.to_string()));
            table.insert(key.to_string(), parsed);
        }
        Self::from_table(&table).map_err(|e| e.to_string())
    }

    /// Checks every value; the error names the key.
    pub fn check(&self) -> Result<(), AnalyticsPolicyError> {
        match parse_duration(&self.conversion_window) {
            Some(w) if w > 0 => {}
            _ => {
                return Err(bad(
                    "conversion_window",
                    format!(
                        "`{}` is not a positive duration such as 24h or 30m",
                        self.conversion_window
                    ),
                ));
            }
        }
        if !(self.fee_rate.is_finite() && (0.0..1.0).contains(&self.fee_rate))
            || rate_fraction(self.fee_rate).is_none()
        {
            return Err(bad(
                "fee_rate",
                format!(
                    "{} is out of range: must be a fraction in [0, 1)",
                    self.fee_rate
                ),
            ));
        }
        if !(self.gap_z.is_finite() && self.gap_z < 0.0) {
            return Err(bad(
                "gap_z",
                format!("{} is out of range: must be a negative number", self.gap_z),
            ));
        }
        if self.gap_min_n == 0 {
            return Err(bad("gap_min_n", "must be at least 1"));
        }
        if let Some(m) = self.synthetic_user_agents.iter().find(|m| m.is_empty()) {
            return Err(bad(
                "synthetic_user_agents",
                format!("`{m}`: an empty marker would match every user agent"),
            ));
        }
        for p in &self.synthetic_url_params {
            match p.split_once('=') {
                Some((k, _)) if !k.is_empty() => {}
                _ => {
                    return Err(bad(
                        "synthetic_url_params",
                        format!("`{p}` is not a key=value pair such as e2e=1"),
                    ));
                }
            }
        }
        if let Some(m) = self.paid_mediums.iter().find(|m| m.trim().is_empty()) {
            return Err(bad(
                "paid_mediums",
                format!("`{m}`: an empty medium would match no visit; remove it"),
            ));
        }
        for l in &self.levers {
            let (event, platform) = match l.split_once('@') {
                Some((e, p)) => (e, Some(p)),
                None => (l.as_str(), None),
            };
            if event.is_empty() || platform.is_some_and(str::is_empty) {
                return Err(bad(
                    "levers",
                    format!("`{l}` is not `event` or `event@platform` such as pricing_view@mobile"),
                ));
            }
        }
        if !(self.lever_min_expected.is_finite() && self.lever_min_expected >= 1.0) {
            return Err(bad(
                "lever_min_expected",
                format!(
                    "{} is out of range: must be a number of events, at least 1",
                    self.lever_min_expected
                ),
            ));
        }
        Ok(())
    }

    /// The conversion window in milliseconds (24 h when the text is unreadable; a
    /// checked policy never is).
    pub fn window_ms(&self) -> Millis {
        parse_duration(&self.conversion_window)
            .filter(|w| *w > 0)
            .unwrap_or(86_400_000)
    }

    /// The fee rate as an exact fraction.
    pub fn fee_fraction(&self) -> (i128, i128) {
        rate_fraction(self.fee_rate).unwrap_or((3, 100))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_contract() {
        let p = AnalyticsPolicy::default();
        assert_eq!(p.window_ms(), 86_400_000);
        assert_eq!(p.fee_fraction(), (3, 100));
        assert_eq!(p.fee_rounding, Rounding::HalfUp);
        assert_eq!(p.gap_z, -3.0);
        assert_eq!(p.gap_min_n, 30);
        assert!(p.check().is_ok());
    }

    #[test]
    fn the_default_toml_is_the_default() {
        let t: toml::Table = toml::from_str(DEFAULT_ANALYTICS_TOML).unwrap();
        let p = AnalyticsPolicy::from_table(t["analytics"].as_table().unwrap()).unwrap();
        assert_eq!(p, AnalyticsPolicy::default());
    }

    #[test]
    fn overrides_on_the_command_line() {
        let p = AnalyticsPolicy::build(
            None,
            &[
                "analytics.conversion_window=30m".into(),
                "analytics.fee_rounding=floor".into(),
                "analytics.gap_min_n=50".into(),
            ],
        )
        .unwrap();
        assert_eq!(p.window_ms(), 1_800_000);
        assert_eq!(p.fee_rounding, Rounding::Floor);
        assert_eq!(p.gap_min_n, 50);
        assert!(AnalyticsPolicy::build(None, &["triggers.x=1".into()]).is_err());
        let e = AnalyticsPolicy::build(None, &["analytics.gap_z=3".into()]).unwrap_err();
        assert!(e.contains("analytics.gap_z"), "{e}");
    }

    #[test]
    fn partial_tables_and_errors_name_the_key() {
        let t: toml::Table = toml::from_str("conversion_window = \"30m\"").unwrap();
        let p = AnalyticsPolicy::from_table(&t).unwrap();
        assert_eq!(p.window_ms(), 1_800_000);
        assert!(p.exclude_synthetic);

        let t: toml::Table = toml::from_str("fee_rouding = \"floor\"").unwrap();
        let e = AnalyticsPolicy::from_table(&t).unwrap_err();
        assert_eq!(e.key, "fee_rouding");

        let t: toml::Table = toml::from_str("fee_rounding = \"banker\"").unwrap();
        assert_eq!(
            AnalyticsPolicy::from_table(&t).unwrap_err().key,
            "fee_rounding"
        );
        let t: toml::Table = toml::from_str("gap_min_n = \"many\"").unwrap();
        assert_eq!(
            AnalyticsPolicy::from_table(&t).unwrap_err().key,
            "gap_min_n"
        );

        let t: toml::Table = toml::from_str("conversion_window = \"soon\"").unwrap();
        let e = AnalyticsPolicy::from_table(&t).unwrap_err();
        assert_eq!(e.key, "conversion_window");
        assert!(e.to_string().contains("analytics.conversion_window"));

        let t: toml::Table = toml::from_str("fee_rate = 1.5").unwrap();
        assert_eq!(AnalyticsPolicy::from_table(&t).unwrap_err().key, "fee_rate");
        let t: toml::Table = toml::from_str("gap_z = 2.0").unwrap();
        assert_eq!(AnalyticsPolicy::from_table(&t).unwrap_err().key, "gap_z");
        let t: toml::Table = toml::from_str("synthetic_url_params = [\"e2e\"]").unwrap();
        assert_eq!(
            AnalyticsPolicy::from_table(&t).unwrap_err().key,
            "synthetic_url_params"
        );
    }
}
