//! The `pages` stream: every minute a crawl of the site's SEO, app and API pages with
//! their status, cache, canonical, robots and sitemap fields. Page faults drop caching,
//! a sitemap entry or indexing.

use super::plan::{CompiledScenario, Effect};
use super::rng::{grid, stream};
use crate::input::{Millis, PageKind, PageRow};

/// The paths of the pages crawl, with their kinds.
pub(super) const PAGES: [(&str, PageKind); 10] = [
    ("/", PageKind::Seo),
    ("/pricing", PageKind::Seo),
    ("/features", PageKind::Seo),
    ("/blog/canary-releases-explained", PageKind::Seo),
    ("/blog/measuring-time-to-value", PageKind::Seo),
    ("/app/dashboard", PageKind::App),
    ("/app/settings", PageKind::App),
    ("/api/ttv/summary", PageKind::Api),
    ("/api/search", PageKind::Api),
    ("/api/security/sessions", PageKind::Api),
];

const CRAWL_PERIOD: Millis = 60_000;
const SITE: &str = "https://www.example.com";

/// Every crawled page of the scenario, in timestamp order.
pub(super) fn pages(sc: &CompiledScenario) -> Vec<PageRow> {
    let mut rng = sc.rng(stream::PAGES);
    let mut rows = Vec::new();
    for slot_end in grid(sc.t0, sc.from, sc.to, CRAWL_PERIOD) {
        let crawl_start = slot_end - CRAWL_PERIOD + 1000;
        for (i, (path, kind)) in PAGES.iter().enumerate() {
            let ts = crawl_start + 400 * i as Millis + rng.below(200) as Millis;
            let u_cache = rng.u01();
            if ts <= sc.from || ts > sc.to {
                continue;
            }
            let mut row = match kind {
                PageKind::Seo => PageRow {
                    ts,
                    path: path.to_string(),
                    kind: *kind,
                    status: 200,
                    cache_control: "public, max-age=300".into(),
                    test_mode: Some(false),
                    canonical: Some(format!("{SITE}{path}")),
                    robots: Some("index, follow".into()),
                    in_sitemap: Some(true),
                    prerendered: Some(true),
                },
                PageKind::App => PageRow {
                    ts,
                    path: path.to_string(),
                    kind: *kind,
                    status: 200,
                    cache_control: "public, max-age=300".into(),
                    test_mode: Some(false),
                    canonical: None,
                    robots: Some("noindex, nofollow".into()),
                    in_sitemap: Some(false),
                    prerendered: Some(false),
                },
                PageKind::Api => PageRow {
                    ts,
                    path: path.to_string(),
                    kind: *kind,
                    status: 200,
                    cache_control: "no-store".into(),
                    test_mode: Some(false),
                    canonical: None,
                    robots: None,
                    in_sitemap: None,
                    prerendered: None,
                },
            };
            for f in sc.faults.iter().filter(|f| f.contains(ts)) {
                match &f.effect {
                    Effect::NoCache(share) if *kind == PageKind::Seo && u_cache < *share => {
                        row.cache_control = "no-cache".into();
                    }
                    Effect::SitemapDrop(p) if p == path => row.in_sitemap = Some(false),
                    Effect::Noindex(p) if p == path => row.robots = Some("noindex, follow".into()),
                    _ => {}
                }
            }
            rows.push(row);
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::generate;
    use crate::generate::test_support::{plan, sorted, spec};

    #[test]
    fn pages_baseline() {
        let mut s = spec(4, 0.0);
        s.streams = vec!["pages".into()];
        let pages = generate(&s, &plan()).unwrap().pages.unwrap();
        assert_eq!(pages.len(), 330 * 10);
        for p in &pages {
            match p.kind {
                PageKind::Api => assert_eq!(p.cache_control, "no-store"),
                _ => assert_eq!(p.cache_control, "public, max-age=300"),
            }
            if p.kind == PageKind::Seo {
                assert_eq!(
                    p.canonical.as_deref(),
                    Some(format!("{SITE}{}", p.path).as_str())
                );
            }
        }
        assert!(sorted(&pages, |p| p.ts));
    }
}
