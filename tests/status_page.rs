//! The status page in a real browser: headless Chromium loads `GET /` from a running
//! server, a backend fails, and the page's own polling turns that pool DOWN in the DOM
//! (colour and words) without a reload. Saves target/status-page.png.

mod common;
mod control;

use std::time::Duration;

use common::cdp::Browser;
use common::{tools, wait_for};
use control::layout;
use switchyard::demo::backend::Mode;

const PRIMARY: &str = "127.0.0.41";
const SECONDARY: &str = "127.0.0.42";

fn zone(port: u16) -> String {
    common::failover_zone("page.test.", port, PRIMARY, SECONDARY)
}

/// What the page shows for a pool: its data-state and the words on its label.
const POOL: &str = r#"(() => {
  const row = document.querySelector('[data-pool="page.test./primary"]');
  return row ? row.dataset.state + " " + row.querySelector('[data-label]').textContent : null;
})()"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_shows_a_failed_pool_down_without_a_reload() {
    let Some(chromium) = tools::require("chromium", "apt-get install -y chromium") else {
        return;
    };
    let (primary, _secondary) = common::backends_on_one_port(PRIMARY, SECONDARY).await;
    let l = layout(true, "");
    l.zone("page.test.toml", &zone(primary.addr().port()));
    let s = l.serve();
    let url = format!("http://{}/", s.control.unwrap());

    let mut b = Browser::start(&chromium);
    b.open(&url);
    let deadline = Duration::from_secs(20);
    wait_for(deadline, "the page to show primary UP", || {
        (b.eval(POOL).as_str() == Some("up UP")).then_some(())
    });
    // Set in this document: a reload would lose it.
    b.eval("window.loadedOnce = 'yes'");
    assert_eq!(
        b.eval("document.getElementById('banner').dataset.state"),
        "ok"
    );

    primary.set_mode(Mode::Status(503)).await.unwrap();
    wait_for(deadline, "the page to show primary DOWN", || {
        (b.eval(POOL).as_str() == Some("down DOWN")).then_some(())
    });
    assert_eq!(b.eval("window.loadedOnce"), "yes", "the page was reloaded");
    let banner = b.eval("document.getElementById('banner').textContent");
    assert!(
        banner
            .as_str()
            .unwrap()
            .contains("1 pool(s) DOWN: page.test./primary"),
        "{banner}"
    );
    let colour = b.eval(
        "getComputedStyle(document.querySelector('[data-pool=\"page.test./primary\"] [data-label]')).backgroundColor",
    );
    assert_eq!(colour, "rgb(207, 34, 46)", "DOWN is red");
    let change =
        b.eval("document.querySelector('[data-change=\"page.test./primary\"]').textContent");
    assert!(change.as_str().unwrap().contains("UP → DOWN"), "{change}");
    let addr = b.eval(&format!(
        "document.querySelector('[data-address=\"page.test./primary/{PRIMARY}\"]').dataset.state"
    ));
    assert_eq!(addr, "down");
    let policy = b.eval("document.querySelector('[data-policy=\"page.test./api\"]').textContent");
    assert!(
        policy.as_str().unwrap().contains("pool secondary"),
        "{policy}"
    );

    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    b.screenshot(&shot);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 10_000,
        "screenshot"
    );
    println!("screenshot: {}", shot.display());
}
