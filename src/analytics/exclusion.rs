//! Exclusion from KPI rollups (contract section 2). An event is synthetic when
//! `test_mode` is true, its `user_agent` contains a synthetic marker (case-sensitive),
//! or its `page_url` query string has a marker parameter (`e2e=1`). A person is
//! synthetic with at least one synthetic event, canary-only when every event of theirs
//! is in the canary cohort; the policy decides which of the two are excluded.

use super::data::{FLAG_TEST_MODE, FunnelEvents};
use super::policy::AnalyticsPolicy;
use super::symbols::{NONE, Symbols};

/// Whether the query string of `url` (after the first `?` of the part before any `#`)
/// has the parameter `key` with the value `value`. Pairs are split at `&` and decoded
/// as a form (`%31` is `1`, `+` a space), as a URL parser's query reading does.
pub fn url_has_param(url: &str, key: &str, value: &str) -> bool {
    let before_fragment = url.split('#').next().unwrap_or("");
    let Some((_, query)) = before_fragment.split_once('?') else {
        return false;
    };
    form_urlencoded::parse(query.as_bytes()).any(|(k, v)| k == key && v == value)
}

/// The synthetic markers of a policy, ready to match.
pub struct Markers<'p> {
    user_agents: &'p [String],
    url_params: Vec<(&'p str, &'p str)>,
}

impl<'p> Markers<'p> {
    pub fn new(policy: &'p AnalyticsPolicy) -> Self {
        Self {
            user_agents: &policy.synthetic_user_agents,
            url_params: policy
                .synthetic_url_params
                .iter()
                .filter_map(|p| p.split_once('='))
                .collect(),
        }
    }

    pub fn user_agent(&self, ua: &str) -> bool {
        self.user_agents.iter().any(|m| ua.contains(m.as_str()))
    }

    pub fn page_url(&self, url: &str) -> bool {
        self.url_params
            .iter()
            .any(|(k, v)| url_has_param(url, k, v))
    }
}

/// Whether each of the first `n` events is synthetic. User agents and URLs are
/// classified once per distinct string.
pub fn synthetic_events(
    ev: &FunnelEvents,
    n: usize,
    symbols: &Symbols,
    policy: &AnalyticsPolicy,
) -> Vec<bool> {
    let markers = Markers::new(policy);
    // Per symbol: 0 unknown, 1 synthetic, 2 not.
    let mut ua_class = vec![0u8; symbols.len()];
    let mut url_class = vec![0u8; symbols.len()];
    let classify = |class: &mut Vec<u8>, s: u32, f: &dyn Fn(&str) -> bool| -> bool {
        if s == NONE {
            return false;
        }
        let c = &mut class[s as usize];
        if *c == 0 {
            *c = if f(symbols.name(s)) { 1 } else { 2 };
        }
        *c == 1
    };
    (0..n)
        .map(|i| {
            ev.flags[i] & FLAG_TEST_MODE != 0
                || classify(&mut ua_class, ev.user_agent[i], &|s| markers.user_agent(s))
                || classify(&mut url_class, ev.page_url[i], &|s| markers.page_url(s))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e2e_parameter_in_the_query_only() {
        assert!(url_has_param("https://x.test/search?q=a&e2e=1", "e2e", "1"));
        assert!(url_has_param("/search?e2e=1#top", "e2e", "1"));
        assert!(!url_has_param("/search?e2e=0", "e2e", "1"));
        assert!(!url_has_param("/search?e2e=10", "e2e", "1"));
        assert!(!url_has_param("/search?xe2e=1", "e2e", "1"));
        assert!(!url_has_param("/search#e2e=1", "e2e", "1"));
        // The fragment goes first: a `?` inside it starts no query.
        assert!(!url_has_param("/search#results?e2e=1", "e2e", "1"));
        assert!(url_has_param("/search?a=1#x?e2e=0", "a", "1"));
        // Keys and values are form-decoded.
        assert!(url_has_param("/search?e2e=%31", "e2e", "1"));
        assert!(url_has_param("/search?%65%32%65=1", "e2e", "1"));
        assert!(!url_has_param("/search?E2E=1", "e2e", "1"));
        assert!(!url_has_param("/search?e2e=01", "e2e", "1"));
        assert!(!url_has_param("/e2e=1/search", "e2e", "1"));
        assert!(!url_has_param("/search?e2e", "e2e", "1"));
    }

    #[test]
    fn user_agent_markers_are_case_sensitive_substrings() {
        let p = AnalyticsPolicy::default();
        let m = Markers::new(&p);
        assert!(m.user_agent("Mozilla/5.0 (X11) SyntheticCanary/1.2"));
        assert!(m.user_agent("DatadogSynthetics"));
        assert!(!m.user_agent("Mozilla/5.0 syntheticcanary"));
        assert!(!m.user_agent("Mozilla/5.0 (iPhone)"));
        assert!(m.page_url("https://app.test/?e2e=1"));
    }
}
