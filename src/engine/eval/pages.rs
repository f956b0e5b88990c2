//! The gates over the `pages` stream, judged at each stage's end over the stage's page
//! checks: caching headers outside their scope (`no-cache`/`no-store` on SEO or app
//! pages outside test mode) and SEO pages that cannot be indexed (each reason counted
//! only when its column is present).

use crate::gate::Gate;

use super::super::fold::Folded;
use super::Finding;

/// The page findings of stage `si`.
pub(super) fn stage_end(f: &Folded, si: usize) -> Vec<Finding> {
    let mut out = Vec::new();
    let ps = &f.pages[si];
    if ps.cache_breaches > 0 {
        out.push(Finding {
            gate: Gate::CacheHeaderScope,
            value: Some(ps.cache_breaches as f64),
            threshold: Some(0.0),
            op: ">",
            detail: format!(
                "{} responses; first: {}",
                ps.cache_breaches,
                ps.cache_example.clone().unwrap_or_default()
            ),
        });
    }
    let cols = f.page_cols;
    let seo = ps.seo_status
        + if cols.canonical { ps.seo_canonical } else { 0 }
        + if cols.robots { ps.seo_robots } else { 0 }
        + if cols.in_sitemap { ps.seo_sitemap } else { 0 }
        + if cols.prerendered {
            ps.seo_prerendered
        } else {
            0
        };
    if seo > 0 {
        let allowed = |r: u8| match r {
            1 => cols.canonical,
            2 => cols.robots,
            3 => cols.in_sitemap,
            4 => cols.prerendered,
            _ => true,
        };
        let ex: Vec<&str> = ps
            .seo_examples
            .iter()
            .filter(|(r, _)| allowed(*r))
            .map(|(_, s)| s.as_str())
            .collect();
        out.push(Finding {
            gate: Gate::SeoIndexability,
            value: Some(seo as f64),
            threshold: Some(0.0),
            op: ">",
            detail: ex.join("; "),
        });
    }
    out
}
