//! The `COPY` side of `dirsync bench writer`: tables shaped like `users`
//! and `group_members` (same columns, generated columns, defaults, keys,
//! indexes and foreign key to `tenants`), and the pages' rows streamed into
//! them with `COPY … FROM STDIN` in PostgreSQL's text format.

use dirsync_domain::{PageFetched, PagePayload, UserRecord};
use sqlx::PgConnection;
use std::io::Write;
use std::time::{Duration, Instant};
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// Where a kind's rows go, and the `COPY` that loads them there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Table {
    Users,
    Memberships,
}

impl Table {
    /// The columns the writer's upsert sets; the rest take their defaults
    /// or are generated from `profile`, as in the writer's insert.
    fn copy_statement(self) -> &'static str {
        match self {
            Table::Users => {
                "COPY bench_users (tenant_id, okta_id, status, created, activated, status_changed, last_login,
                                   last_updated, password_changed, user_type_id, profile) FROM STDIN"
            }
            Table::Memberships => "COPY bench_group_members (tenant_id, group_id, user_id) FROM STDIN",
        }
    }
}

/// Creates `bench_users` and `bench_group_members`. `LIKE … INCLUDING ALL`
/// copies columns, generated columns, defaults, the primary keys and
/// indexes but not foreign keys, so the one to `tenants` is added: the
/// writer's inserts check it too.
pub(super) async fn create_tables(conn: &mut PgConnection) -> anyhow::Result<()> {
    for statement in [
        "CREATE TABLE bench_users (LIKE users INCLUDING ALL)",
        "ALTER TABLE bench_users ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE",
        "CREATE TABLE bench_group_members (LIKE group_members INCLUDING ALL)",
        "ALTER TABLE bench_group_members ADD FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE",
    ] {
        sqlx::query(statement).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Bytes handed to the connection at a time.
const CHUNK: usize = 1 << 20;

/// Loads the pages' rows into `table` with one `COPY`; returns the rows
/// PostgreSQL loaded and the time taken, formatting the rows included
/// (the writer's time includes building its arrays, too).
pub(super) async fn copy_pages<'a>(
    conn: &mut PgConnection,
    table: Table,
    pages: impl Iterator<Item = &'a PageFetched>,
) -> anyhow::Result<(u64, Duration)> {
    let started = Instant::now();
    let mut copy = conn.copy_in_raw(table.copy_statement()).await?;
    let mut buf = Vec::with_capacity(CHUNK + CHUNK / 4);
    for page in pages {
        match (&page.payload, table) {
            (PagePayload::Users { users }, Table::Users) => {
                for user in users {
                    user_line(&mut buf, page, user)?;
                }
            }
            (PagePayload::Members { group_id, user_ids }, Table::Memberships) => {
                let group: &str = group_id.as_ref();
                for user in user_ids {
                    writeln!(
                        buf,
                        "{}\t{}\t{}",
                        page.tenant_id,
                        Escaped(group),
                        Escaped(user.as_ref())
                    )?;
                }
            }
            _ => anyhow::bail!("a {} page cannot be copied into the {table:?} table", page.chain),
        }
        if buf.len() >= CHUNK {
            copy.send(std::mem::take(&mut buf)).await?;
            buf.reserve(CHUNK + CHUNK / 4);
        }
    }
    if !buf.is_empty() {
        copy.send(buf).await?;
    }
    let rows = copy.finish().await?;
    Ok((rows, started.elapsed()))
}

/// One `bench_users` row in `COPY`'s text format: tab-separated, `\N` for
/// NULL, the profile as JSON text.
fn user_line(buf: &mut Vec<u8>, page: &PageFetched, u: &UserRecord) -> anyhow::Result<()> {
    write!(
        buf,
        "{}\t{}\t{}",
        page.tenant_id,
        Escaped(u.okta_id.as_ref()),
        Escaped(&u.status)
    )?;
    for at in [
        u.created,
        u.activated,
        u.status_changed,
        u.last_login,
        u.last_updated,
        u.password_changed,
    ] {
        buf.push(b'\t');
        timestamp(buf, at)?;
    }
    buf.push(b'\t');
    match &u.user_type_id {
        Some(t) => write!(buf, "{}", Escaped(t))?,
        None => buf.extend_from_slice(b"\\N"),
    }
    writeln!(buf, "\t{}", Escaped(&serde_json::to_string(&u.profile)?))?;
    Ok(())
}

fn timestamp(buf: &mut Vec<u8>, at: Option<OffsetDateTime>) -> anyhow::Result<()> {
    match at {
        Some(at) => {
            at.format_into(buf, &Rfc3339)?;
        }
        None => buf.extend_from_slice(b"\\N"),
    }
    Ok(())
}

/// A value with the characters `COPY`'s text format treats specially
/// (backslash, tab, newline, carriage return) escaped.
struct Escaped<'a>(&'a str);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut rest = self.0;
        while let Some(i) = rest.find(['\\', '\t', '\n', '\r']) {
            f.write_str(&rest[..i])?;
            f.write_str(match rest.as_bytes()[i] {
                b'\\' => "\\\\",
                b'\t' => "\\t",
                b'\n' => "\\n",
                _ => "\\r",
            })?;
            rest = &rest[i + 1..];
        }
        f.write_str(rest)
    }
}

#[cfg(test)]
mod tests {
    use super::Escaped;

    #[test]
    fn copy_text_escapes_backslashes_tabs_and_line_breaks_and_nothing_else() {
        // JSON's own escapes get their backslash doubled.
        assert_eq!(Escaped(r#"{"a": "x\"y\t"}"#).to_string(), r#"{"a": "x\\"y\\t"}"#);
        assert_eq!(Escaped("a\tb\nc\rd\\e").to_string(), "a\\tb\\nc\\rd\\\\e");
        assert_eq!(Escaped("plain ü").to_string(), "plain ü");
    }
}
