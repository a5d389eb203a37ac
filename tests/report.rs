//! `tcpc report`: the page is loaded by a real browser (Debian's headless Chromium, installed
//! by `tools/peers.sh debian`). The DOM Chromium builds must hold one table row and one chart
//! bar per tenant, with the figures `tcpc status --format json` gives, and the screenshot must
//! be a real PNG of the requested size.

mod common;

use std::process::Command;

use common::{run, tcpc};

fn chromium(bin: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
        ])
        .args(args)
        .output()
        .expect("running chromium")
}

#[test]
fn chromium_renders_the_report_with_every_tenant() {
    let Some(bin) = common::peers::require_peer("chromium") else { return };
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    run(tcpc().args(["report", "examples", "-o"]).arg(&page)).expect_code(0, "tcpc report");
    let url = format!("file://{}", page.display());

    let dom = chromium(&bin, &["--dump-dom", &url]);
    assert!(dom.status.success(), "chromium --dump-dom failed: {}", String::from_utf8_lossy(&dom.stderr));
    let dom = String::from_utf8_lossy(&dom.stdout).into_owned();

    let status: serde_json::Value =
        serde_json::from_str(&run(tcpc().args(["status", "examples", "--format", "json"])).expect_code(0, "status").stdout).unwrap();
    let rows = status.as_array().unwrap();
    assert_eq!(dom.matches("<tr data-tenant=").count(), rows.len(), "one table row per tenant:\n{dom}");
    assert_eq!(dom.matches("class=\"bar\"").count(), rows.len(), "one chart bar per tenant:\n{dom}");
    for row in rows {
        let tenant = row["tenant"].as_str().unwrap();
        let days = row["certificates"][0]["daysLeft"].as_i64().unwrap();
        assert!(
            dom.contains(&format!("data-tenant=\"{tenant}\" data-days=\"{days}\"")),
            "{tenant}: the bar does not show {days} days:\n{dom}"
        );
        assert!(dom.contains(&format!("<td>{}</td>", row["endpoint"].as_str().unwrap())), "{tenant}: endpoint missing");
    }

    let png = dir.path().join("report.png");
    let shot = chromium(&bin, &["--hide-scrollbars", "--window-size=1200,900", &format!("--screenshot={}", png.display()), &url]);
    assert!(shot.status.success(), "chromium --screenshot failed: {}", String::from_utf8_lossy(&shot.stderr));
    let bytes = std::fs::read(&png).expect("the screenshot was written");
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    let (w, h) = (u32::from_be_bytes(bytes[16..20].try_into().unwrap()), u32::from_be_bytes(bytes[20..24].try_into().unwrap()));
    assert_eq!((w, h), (1200, 900), "screenshot size");
    assert!(bytes.len() > 20_000, "a {} byte screenshot is blank", bytes.len());
}
