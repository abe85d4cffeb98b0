//! The client against a local scripted HTTP server: real requests, real
//! headers, real failures.

mod caps;
mod errors;
mod pages;
mod proxy;
mod rate_limits;
mod server;
mod service_app;
mod ssrf;

/// A user as Okta lists it.
pub fn user_json(id: &str) -> String {
    format!(
        r#"{{"id":"{id}","status":"ACTIVE","created":"2024-01-02T03:04:05.000Z",
            "activated":null,"statusChanged":"2024-01-02T03:04:06.000Z","lastLogin":null,
            "lastUpdated":"2024-02-02T03:04:05.000Z","passwordChanged":null,
            "type":{{"id":"oty1"}},
            "profile":{{"login":"{id}@example.com","email":"{id}@example.com","title":"Engineer"}},
            "_links":{{"self":{{"href":"https://ignored.example.com/api/v1/users/{id}"}}}}}}"#
    )
}

/// A group as Okta lists it with `expand=stats`.
pub fn group_json(id: &str, members: u64) -> String {
    format!(
        r#"{{"id":"{id}","created":"2024-01-02T03:04:05.000Z","lastUpdated":"2024-01-02T03:04:05.000Z",
            "lastMembershipUpdated":"2024-03-02T03:04:05.000Z","objectClass":["okta:user_group"],
            "type":"OKTA_GROUP","profile":{{"name":"Group {id}","description":null}},
            "_embedded":{{"stats":{{"usersCount":{members}}}}}}}"#
    )
}

pub fn list(items: &[String]) -> String {
    format!("[{}]", items.join(","))
}

/// The worker spawns page fetches on a multi-threaded runtime and sends
/// errors through anyhow: all of it must be `Send + Sync + 'static`.
#[test]
fn client_futures_and_errors_can_cross_threads() {
    fn send<T: Send>(_: &T) {}
    fn send_sync_static<T: Send + Sync + 'static>() {}
    send_sync_static::<dirsync_okta::OktaClient>();
    send_sync_static::<dirsync_okta::OktaError>();
    send_sync_static::<dirsync_okta::Page<dirsync_okta::User>>();

    let org = dirsync_okta::OrgUrl::parse("https://acme.okta.com", false).unwrap();
    let token = dirsync_okta::ApiToken::new("t");
    let client = dirsync_okta::OktaClient::new(org, token, Default::default()).unwrap();
    let url = client.users_url(None, 200);
    send(&client.users_page(&url));
    send(&client.groups_page(&url));
    send(&client.group_members_page(&url));
    send(&client.get_user("00u1"));
    send(&client.organization());
}
