//! `rehearse export` outputs: the policy as a Prometheus rule file and a promtool unit
//! test replaying a dataset through it ([`prometheus`]), as Argo Rollouts and Flagger
//! analysis ([`canary`]), all written by a small YAML writer ([`yaml`]).

pub mod canary;
pub mod prometheus;
pub mod yaml;
