use crate::helpers::{Client, start};
use dirsync_okta_sim::UserStatus;

#[tokio::test]
#[ignore]
async fn peek() {
    let (sim, org) = start(300, 12, 99).await;
    let c = Client::new(&sim);
    let r = c.get("/api/v1/users?limit=2").await;
    println!("{:#?}", r.headers());
    println!("{}", r.text().await.unwrap());
    for st in [
        UserStatus::Active,
        UserStatus::Staged,
        UserStatus::Suspended,
        UserStatus::LockedOut,
    ] {
        let u = org.users().iter().find(|u| u.status() == st).unwrap();
        println!(
            "{}",
            c.get(&format!("/api/v1/users/{}", u.id()))
                .await
                .text()
                .await
                .unwrap()
        );
    }
    let r = c.get("/api/v1/groups?expand=stats&limit=3").await;
    println!("{:#?}", r.headers());
    println!("{}", r.text().await.unwrap());
    println!(
        "{}",
        c.get("/.well-known/okta-organization")
            .await
            .text()
            .await
            .unwrap()
    );
}
