//! `rehearse policy show|check`: print the commented default policy or the merged
//! result of `--policy`/`--set`, or check a policy (schemas included) without running.

use crate::policy::{self, PolicyBuilder};

use super::{AppError, Output};

/// Prints the policy: the commented default when nothing overrides it.
pub fn show(builder: Option<PolicyBuilder>) -> Result<Output, AppError> {
    let Some(b) = builder else {
        return Ok(Output::new(policy::DEFAULT_POLICY_TOML.to_string(), 0));
    };
    let p = b.build().map_err(AppError::usage)?;
    Ok(Output::new(
        format!(
            "# merged policy (default, then --policy, then --set)\n{}",
            p.file.to_complete_toml()
        ),
        0,
    ))
}

/// Checks a policy and its schema files.
pub fn check(builder: PolicyBuilder) -> Result<Output, AppError> {
    let p = builder.build().map_err(AppError::usage)?;
    let described = policy::describe_stages(&p);
    super::setup(p).map_err(AppError::usage)?;
    Ok(Output::new(format!("policy ok: {described}\n"), 0))
}
