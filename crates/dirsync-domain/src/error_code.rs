use crate::run::{UnknownVariant, text_enum};
use serde::{Deserialize, Serialize};
use std::{fmt, str::FromStr};

/// Why a run failed, from a closed set that a customer's admin can act on.
///
/// The remedies are the product's troubleshooting guide in one line each;
/// they are shown verbatim by the CLI and (later) the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Okta answered 401 `E0000011`: the token was revoked, or expired after 30 days unused.
    InvalidToken,
    /// Okta answered 403 `E0000006`: the token's admin, or the service app's
    /// admin role, lacks the rights to read the directory.
    AccessDenied,
    /// Okta's token endpoint refused the service app (`invalid_client`): the
    /// client ID is unknown, or the key dirsync signs with is not the public
    /// key registered with the app.
    InvalidClient,
    /// The service app was not granted a scope the sync needs
    /// (`invalid_scope` at the token endpoint, or `insufficient_scope` on a call).
    MissingScope,
    /// The instance URL does not lead to an Okta org (DNS, connection refused, 404).
    OrgNotFound,
    /// Okta kept failing (5xx, timeouts, resets) after every retry.
    OktaUnavailable,
    /// Our fault; details are in our logs, not in front of the customer.
    Internal,
}

text_enum!(ErrorCode, "error code", {
    InvalidToken => "invalid_token",
    AccessDenied => "access_denied",
    InvalidClient => "invalid_client",
    MissingScope => "missing_scope",
    OrgNotFound => "org_not_found",
    OktaUnavailable => "okta_unavailable",
    Internal => "internal",
});

impl ErrorCode {
    /// One line that tells the customer's admin what to do next.
    pub fn remedy(self) -> &'static str {
        match self {
            ErrorCode::InvalidToken => {
                "The Okta API token is invalid: it was revoked, or it expired after 30 days \
                 unused. Create a new token as a Super Admin and share it again."
            }
            ErrorCode::AccessDenied => {
                "Okta denies access to users and groups: for an API token, create it while signed \
                 in as a Super Admin and share it again; for a service app, assign it the \
                 Read-Only Administrator role (Admin roles tab of the app)."
            }
            ErrorCode::InvalidClient => {
                "The service app's client ID or public key does not match what Okta has: paste \
                 the public key shown in dirsync into the app's Client Credentials (Public keys), \
                 and check that the client ID in dirsync is the app's."
            }
            ErrorCode::MissingScope => {
                "Grant the scopes okta.users.read, okta.groups.read and okta.logs.read to the app \
                 on its Okta API Scopes tab, then press Run Sync again."
            }
            ErrorCode::OrgNotFound => {
                "No Okta org answers at this instance URL. Check the URL (for example \
                 https://acme.okta.com or your custom domain, not the -admin URL) and save it again."
            }
            ErrorCode::OktaUnavailable => {
                "Okta did not answer reliably during the sync. Nothing is lost; the sync will be \
                 retried, or press Run Sync again later."
            }
            ErrorCode::Internal => {
                "The sync failed on our side. Nothing is lost; press Run Sync again, and contact \
                 support if it keeps failing."
            }
        }
    }

    /// Failures that only the customer can fix: retrying before the daily run
    /// only spends their rate budget.
    pub fn needs_customer_action(self) -> bool {
        matches!(
            self,
            ErrorCode::InvalidToken
                | ErrorCode::AccessDenied
                | ErrorCode::InvalidClient
                | ErrorCode::MissingScope
                | ErrorCode::OrgNotFound
        )
    }

    /// Whether the scheduler tries a run that failed with this code again
    /// within the day (after `retry_after`, a few times a day): the
    /// failures that may pass without anyone doing anything. The others
    /// wait for the tenant's next daily slot, or for the admin to act.
    pub fn retried_by_schedule(self) -> bool {
        !self.needs_customer_action()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_remedy_and_round_trips() {
        for code in ErrorCode::ALL {
            assert!(code.remedy().len() > 40, "{code} needs a real remedy");
            assert_eq!(code.as_str().parse::<ErrorCode>().unwrap(), *code);
        }
    }

    #[test]
    fn credentials_problems_need_the_customer() {
        assert!(ErrorCode::InvalidToken.needs_customer_action());
        assert!(ErrorCode::AccessDenied.needs_customer_action());
        assert!(ErrorCode::InvalidClient.needs_customer_action());
        assert!(ErrorCode::MissingScope.needs_customer_action());
        assert!(!ErrorCode::OktaUnavailable.needs_customer_action());
    }

    #[test]
    fn the_schedule_retries_only_what_may_pass_without_the_customer() {
        let retried: Vec<ErrorCode> = ErrorCode::ALL
            .iter()
            .copied()
            .filter(|c| c.retried_by_schedule())
            .collect();
        assert_eq!(retried, [ErrorCode::OktaUnavailable, ErrorCode::Internal]);
        for code in ErrorCode::ALL {
            assert_ne!(code.retried_by_schedule(), code.needs_customer_action(), "{code}");
        }
    }

    #[test]
    fn each_remedy_tells_the_admin_what_to_do() {
        let says = |code: ErrorCode, words: &[&str]| {
            for w in words {
                assert!(
                    code.remedy().contains(w),
                    "{code}: `{w}` missing from {:?}",
                    code.remedy()
                );
            }
        };
        says(ErrorCode::InvalidToken, &["new token", "Super Admin"]);
        says(
            ErrorCode::AccessDenied,
            &["Super Admin", "service app", "Read-Only Administrator"],
        );
        says(
            ErrorCode::InvalidClient,
            &["public key", "Client Credentials", "client ID"],
        );
        says(
            ErrorCode::MissingScope,
            &[
                "okta.users.read",
                "okta.groups.read",
                "okta.logs.read",
                "Okta API Scopes",
            ],
        );
        says(ErrorCode::OrgNotFound, &["Check the URL"]);
        says(ErrorCode::OktaUnavailable, &["retried"]);
        says(ErrorCode::Internal, &["our side"]);
    }
}
