//! E-mail delivery against an SMTP server this test runs on 127.0.0.1: STARTTLS with a
//! private CA (`ca_file`), AUTH only inside TLS, one message with a stable Message-ID and
//! plain-text and HTML parts; a server that offers no STARTTLS gets nothing (no downgrade).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio_rustls::rustls;

use cxpulse::notify::delivery::Outcome;

use crate::digest::{date, store_with, DAY, T0};

/// What the server saw over one connection.
#[derive(Debug, Default, Clone)]
struct Session {
    tls: bool,
    auth_in_tls: Option<bool>,
    auth: Option<String>,
    mail_from: Option<String>,
    rcpt: Vec<String>,
    data: Option<String>,
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

struct SmtpServer {
    port: u16,
    ca_pem: String,
    sessions: Arc<Mutex<Vec<Session>>>,
}

fn tls_config() -> (Arc<rustls::ServerConfig>, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "cxpulse test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let cfg = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(leaf_key.serialize_der().into()),
        )
        .unwrap();
    (Arc::new(cfg), ca.pem())
}

impl SmtpServer {
    async fn start(offer_starttls: bool) -> SmtpServer {
        SmtpServer::start_with(offer_starttls, false).await
    }

    /// `offer_starttls`: plain connection that may be upgraded; `implicit_tls`: TLS from the
    /// first byte (port 465 style).
    async fn start_with(offer_starttls: bool, implicit_tls: bool) -> SmtpServer {
        let (tls, ca_pem) = tls_config();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let sessions: Arc<Mutex<Vec<Session>>> = Default::default();
        let seen = sessions.clone();
        tokio::spawn(async move {
            loop {
                let Ok((sock, _)) = listener.accept().await else {
                    return;
                };
                let (tls, seen) = (tls.clone(), seen.clone());
                tokio::spawn(async move {
                    let s = if implicit_tls {
                        let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
                        match acceptor.accept(sock).await {
                            Ok(t) => {
                                let start = Session {
                                    tls: true,
                                    ..Session::default()
                                };
                                serve_session(Box::new(t), tls, false, start).await
                            }
                            Err(_) => Session::default(),
                        }
                    } else {
                        serve(Box::new(sock), tls, offer_starttls).await
                    };
                    seen.lock().unwrap().push(s);
                });
            }
        });
        SmtpServer {
            port,
            ca_pem,
            sessions,
        }
    }
}

async fn serve(
    sock: Box<dyn Stream>,
    tls: Arc<rustls::ServerConfig>,
    offer_starttls: bool,
) -> Session {
    serve_session(sock, tls, offer_starttls, Session::default()).await
}

async fn serve_session(
    sock: Box<dyn Stream>,
    tls: Arc<rustls::ServerConfig>,
    offer_starttls: bool,
    mut s: Session,
) -> Session {
    let mut r = BufReader::new(sock);
    let _ = r.get_mut().write_all(b"220 127.0.0.1 ESMTP test\r\n").await;
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).await.unwrap_or(0) == 0 {
            return s;
        }
        let cmd = line.trim_end().to_string();
        let upper = cmd.to_ascii_uppercase();
        let reply: &[u8] = if upper.starts_with("EHLO") {
            if offer_starttls && !s.tls {
                b"250-127.0.0.1\r\n250-STARTTLS\r\n250 8BITMIME\r\n"
            } else {
                b"250-127.0.0.1\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"
            }
        } else if upper == "STARTTLS" && offer_starttls && !s.tls {
            let _ = r.get_mut().write_all(b"220 ready\r\n").await;
            let plain = r.into_inner();
            let acceptor = tokio_rustls::TlsAcceptor::from(tls.clone());
            match acceptor.accept(plain).await {
                Ok(t) => {
                    s.tls = true;
                    r = BufReader::new(Box::new(t));
                    continue;
                }
                Err(_) => return s,
            }
        } else if upper.starts_with("AUTH PLAIN") {
            s.auth_in_tls = Some(s.tls);
            s.auth = cmd.split_whitespace().nth(2).map(|b| b.to_string());
            b"235 2.7.0 ok\r\n"
        } else if upper.starts_with("MAIL FROM:") {
            s.mail_from = Some(cmd[10..].to_string());
            b"250 ok\r\n"
        } else if upper.starts_with("RCPT TO:") {
            s.rcpt.push(cmd[8..].to_string());
            b"250 ok\r\n"
        } else if upper == "DATA" {
            let _ = r.get_mut().write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).await.unwrap_or(0) == 0 || l == ".\r\n" {
                    break;
                }
                data.push_str(&l);
            }
            s.data = Some(data);
            b"250 2.0.0 queued\r\n"
        } else if upper == "QUIT" {
            let _ = r.get_mut().write_all(b"221 bye\r\n").await;
            return s;
        } else {
            b"502 not implemented\r\n"
        };
        if r.get_mut().write_all(reply).await.is_err() {
            return s;
        }
    }
}

fn smtp_target(dir: &std::path::Path, server: &SmtpServer, login: bool) -> String {
    smtp_target_tls(dir, server, login, "starttls")
}

fn smtp_target_tls(dir: &std::path::Path, server: &SmtpServer, login: bool, tls: &str) -> String {
    std::fs::write(dir.join("ca.pem"), &server.ca_pem).unwrap();
    format!(
        "[[deliver]]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"{tls}\"\nca_file = \"ca.pem\"\nfrom = \"cxpulse <cx@example.com>\"\nto = [\"Brand Team <team@example.com>\", \"analyst@example.com\"]\ntimeout_secs = 5\n{}",
        server.port,
        if login {
            "username_env = \"CARGO_PKG_NAME\"\npassword_env = \"CARGO_PKG_VERSION\"\n"
        } else {
            ""
        }
    )
}

#[tokio::test]
async fn digests_go_out_by_e_mail_over_starttls() {
    let dir = tempfile::tempdir().unwrap();
    // Yesterday anger spiked in posts of hostile markup, so the digest quotes them: the
    // e-mail must carry them as text.
    let mut posts = crate::notify::steady_posts();
    for i in 0..15 {
        posts.push(crate::digest::post(
            10_000 + i,
            T0 + 29 * DAY + (i as i64 + 1) * 1_800_000,
            "anger",
            "delivery",
            &format!("{HOSTILE} the courier lost parcel {i}"),
        ));
    }
    let store = store_with(dir.path(), &posts);
    let server = SmtpServer::start(true).await;
    let (n, _) =
        crate::notify::notifier(dir.path(), &store, &smtp_target(dir.path(), &server, true));
    let r = n.digest_pass(crate::notify::at(30, 8)).await.unwrap();
    assert_eq!(r.deliveries.len(), 1);
    assert_eq!(r.deliveries[0].3, Outcome::Delivered, "{r:?}");
    // Never twice.
    n.digest_pass(crate::notify::at(30, 9)).await.unwrap();

    let sessions = server.sessions.lock().unwrap().clone();
    let mails: Vec<&Session> = sessions.iter().filter(|s| s.data.is_some()).collect();
    assert_eq!(mails.len(), 1, "{sessions:?}");
    let s = mails[0];
    assert!(s.tls);
    assert_eq!(s.auth_in_tls, Some(true), "credentials only inside TLS");
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD
        .decode(s.auth.as_deref().unwrap())
        .unwrap();
    // The login comes from the variables named in the config (ones cargo sets for tests, so
    // no set_var races other threads).
    let expected = format!(
        "\0{}\0{}",
        std::env::var("CARGO_PKG_NAME").unwrap(),
        std::env::var("CARGO_PKG_VERSION").unwrap()
    );
    assert_eq!(auth, expected.as_bytes());
    assert_eq!(s.mail_from.as_deref(), Some("<cx@example.com>"));
    assert_eq!(
        s.rcpt,
        vec![
            "<team@example.com>".to_string(),
            "<analyst@example.com>".to_string()
        ]
    );
    let data = s.data.as_deref().unwrap();
    assert!(
        data.contains(&format!(
            "Message-ID: <acme-phone.digest.{}@cxpulse>",
            date(29)
        )),
        "{data}"
    );
    assert!(data.contains("multipart/alternative"), "{data}");
    assert!(
        data.contains("text/plain") && data.contains("text/html"),
        "{data}"
    );
    assert!(data.contains("Subject:"), "{data}");
    let html = mime_part(data, "text/html");
    let plain = mime_part(data, "text/plain");
    assert!(
        html.contains("&lt;script&gt;alert(&quot;mail&quot;)&lt;/script&gt;")
            || html.contains("&lt;script&gt;alert(&#34;mail&#34;)&lt;/script&gt;"),
        "the quote is in the HTML, escaped: {html}"
    );
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    // The plain part is the Markdown digest, where markup is escaped too (Markdown viewers
    // render inline HTML).
    assert!(plain.contains("the courier lost parcel"), "{plain}");
    assert!(
        !plain.contains("<script") && !plain.contains("<img"),
        "{plain}"
    );
}

const HOSTILE: &str = "<script>alert(\"mail\")</script><img src=x onerror=alert(2)>";

/// The decoded body of the first MIME part of `content_type` in a message (base64 or
/// quoted-printable, as lettre chose).
fn mime_part(data: &str, content_type: &str) -> String {
    let start = data
        .find(&format!("Content-Type: {content_type}"))
        .unwrap_or_else(|| panic!("no {content_type} part in {data}"));
    let part = &data[start..];
    let (head, rest) = part.split_once("\r\n\r\n").expect("part headers end");
    let body = rest.split("\r\n--").next().unwrap_or("");
    let head = head.to_ascii_lowercase();
    if head.contains("content-transfer-encoding: base64") {
        use base64::Engine;
        let clean: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(clean)
                .unwrap(),
        )
        .unwrap()
    } else if head.contains("content-transfer-encoding: quoted-printable") {
        let joined = body.replace("=\r\n", "");
        let b = joined.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'=' && i + 2 < b.len() {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    } else {
        body.to_string()
    }
}

#[tokio::test]
async fn no_e_mail_is_sent_when_the_server_offers_no_starttls() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &crate::notify::steady_posts());
    let server = SmtpServer::start(false).await;
    let (n, _) =
        crate::notify::notifier(dir.path(), &store, &smtp_target(dir.path(), &server, false));
    let r = n.digest_pass(crate::notify::at(30, 8)).await.unwrap();
    assert!(matches!(r.deliveries[0].3, Outcome::Failed { .. }), "{r:?}");
    let sessions = server.sessions.lock().unwrap().clone();
    assert!(
        sessions
            .iter()
            .all(|s| s.data.is_none() && s.mail_from.is_none()),
        "{sessions:?}"
    );
}

#[tokio::test]
async fn implicit_tls_works_too() {
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &crate::notify::steady_posts());
    let server = SmtpServer::start_with(false, true).await;
    let (n, _) = crate::notify::notifier(
        dir.path(),
        &store,
        &smtp_target_tls(dir.path(), &server, true, "tls"),
    );
    let r = n.digest_pass(crate::notify::at(30, 8)).await.unwrap();
    assert_eq!(r.deliveries[0].3, Outcome::Delivered, "{r:?}");
    let sessions = server.sessions.lock().unwrap().clone();
    let mails: Vec<&Session> = sessions.iter().filter(|s| s.data.is_some()).collect();
    assert_eq!(mails.len(), 1, "{sessions:?}");
    assert_eq!(mails[0].auth_in_tls, Some(true));
}
