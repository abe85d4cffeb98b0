//! The message contract on the queue. Every message is a tagged, versioned
//! enum variant: a new shape gets a new tag, and consumers keep reading the
//! old one until no producer sends it (rolling deploys mix versions).

use crate::{Chain, GroupRecord, OktaGroupId, OktaUserId, RunId, SyncMode, TenantId, UserRecord};
use serde::{Deserialize, Serialize};

/// What the workers are asked to do: each is one phase of a run that
/// talks to Okta, taken by whichever worker is free.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum WorkerMessage {
    /// From the scheduler or a "Run Sync": fetch the run's pages.
    #[serde(rename = "sync_requested.v1")]
    SyncRequested(SyncRequested),
    /// From the writer, once every page of a full run is written: ask Okta
    /// by id about each stored user and group the run did not see.
    #[serde(rename = "removals_check_requested.v1")]
    CheckRemovals(CheckRemovals),
}

impl WorkerMessage {
    pub fn run_id(&self) -> RunId {
        match self {
            WorkerMessage::SyncRequested(r) => r.run_id,
            WorkerMessage::CheckRemovals(c) => c.run_id,
        }
    }

    pub fn tenant_id(&self) -> TenantId {
        match self {
            WorkerMessage::SyncRequested(r) => r.tenant_id,
            WorkerMessage::CheckRemovals(c) => c.tenant_id,
        }
    }
}

/// "Every page of this full run is written; confirm its removals with
/// Okta." Whoever claims the check owns it; a duplicate finds it claimed
/// or done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckRemovals {
    pub tenant_id: TenantId,
    pub run_id: RunId,
}

/// "Run this sync": the run row already exists; whoever claims its lease owns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncRequested {
    pub tenant_id: TenantId,
    pub run_id: RunId,
    pub mode: SyncMode,
    /// How many times this run has been handed out (1 for the first).
    pub attempt: u32,
}

/// What the workers send to the writers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum WriterMessage {
    #[serde(rename = "page_fetched.v1")]
    PageFetched(PageFetched),
    #[serde(rename = "fetch_completed.v1")]
    FetchCompleted(FetchCompleted),
    /// A full run's removals are confirmed with Okta: it may be finalized.
    #[serde(rename = "removals_checked.v1")]
    RemovalsChecked(RemovalsChecked),
}

/// One Okta page. `(run_id, chain, seq)` identifies it: a page fetched again
/// after a takeover carries the same key, and the writer applies it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageFetched {
    pub tenant_id: TenantId,
    pub run_id: RunId,
    pub attempt: u32,
    pub chain: Chain,
    /// 0-based position of the page in its chain.
    pub seq: u32,
    pub payload: PagePayload,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PagePayload {
    Users {
        users: Vec<UserRecord>,
    },
    Groups {
        groups: Vec<GroupRecord>,
    },
    Members {
        group_id: OktaGroupId,
        user_ids: Vec<OktaUserId>,
    },
}

impl PagePayload {
    /// Rows this page will write, for the writer's batch sizing.
    pub fn rows(&self) -> usize {
        match self {
            PagePayload::Users { users } => users.len(),
            PagePayload::Groups { groups } => groups.len(),
            PagePayload::Members { user_ids, .. } => user_ids.len(),
        }
    }

    /// 0 for users, 1 for groups, 2 for memberships: the order metrics
    /// and tallies keep kinds in.
    pub fn kind_index(&self) -> usize {
        match self {
            PagePayload::Users { .. } => 0,
            PagePayload::Groups { .. } => 1,
            PagePayload::Members { .. } => 2,
        }
    }
}

/// Every chain of the run has ended and `pages` pages were published in all.
/// The writer finalizes the run once that many distinct pages are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FetchCompleted {
    pub tenant_id: TenantId,
    pub run_id: RunId,
    pub attempt: u32,
    pub pages: u32,
}

/// The removal check of a full run has ended: what Okta confirmed gone is
/// recorded, and the writer finalizes the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemovalsChecked {
    pub tenant_id: TenantId,
    pub run_id: RunId,
    /// Users and groups Okta confirmed gone by id.
    pub confirmed_gone: u32,
}

impl WriterMessage {
    pub fn run_id(&self) -> RunId {
        match self {
            WriterMessage::PageFetched(p) => p.run_id,
            WriterMessage::FetchCompleted(f) => f.run_id,
            WriterMessage::RemovalsChecked(r) => r.run_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_carry_their_version_tag() {
        let msg = WriterMessage::PageFetched(PageFetched {
            tenant_id: TenantId::nil(),
            run_id: RunId::nil(),
            attempt: 1,
            chain: Chain::Members {
                group_id: "00g1".into(),
            },
            seq: 3,
            payload: PagePayload::Members {
                group_id: "00g1".into(),
                user_ids: vec!["00u1".into()],
            },
        });
        let json = serde_json::to_value(&msg).unwrap();
        assert_eq!(json["type"], "page_fetched.v1");
        assert_eq!(json["chain"], "members:00g1");
        assert_eq!(json["payload"]["kind"], "members");
        let back: WriterMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, msg);
    }

    #[test]
    fn an_unknown_message_type_is_an_error_not_a_default() {
        let err = serde_json::from_str::<WorkerMessage>(r#"{"type":"sync_requested.v9"}"#);
        assert!(err.is_err());
    }
}
