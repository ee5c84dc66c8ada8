//! The `smtp` target: each message as one e-mail (plain-text Markdown and HTML alternatives)
//! through `lettre`, over STARTTLS (required, never downgraded), implicit TLS, or plain text
//! for a relay on the same host.

use lettre::message::{header::ContentType, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use super::{DeliveryError, Message};
use crate::config::{SmtpTls, Target};

fn build_error(e: impl std::fmt::Display) -> DeliveryError {
    DeliveryError::Message(e.to_string())
}

/// The e-mail for `msg` (also used by tests to check what is sent).
pub fn email(from: &str, to: &[String], msg: &Message) -> Result<lettre::Message, DeliveryError> {
    let mut b = lettre::Message::builder()
        .from(from.parse::<Mailbox>().map_err(build_error)?)
        .subject(&msg.subject)
        // Stable across retries and restarts, so a mail system that sees it twice can tell.
        .message_id(Some(format!(
            "<{}@cxpulse>",
            msg.id.replace(
                |c: char| !c.is_ascii_alphanumeric() && c != '-' && c != '.',
                "."
            )
        )));
    for t in to {
        b = b.to(t.parse::<Mailbox>().map_err(build_error)?);
    }
    b.multipart(
        MultiPart::alternative()
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .body(msg.markdown.clone()),
            )
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_HTML)
                    .body(msg.html.clone()),
            ),
    )
    .map_err(build_error)
}

pub async fn send(target: &Target, msg: &Message) -> Result<(), DeliveryError> {
    let Target::Smtp {
        host,
        port,
        tls,
        ca_pem,
        from,
        to,
        login,
        timeout,
    } = target
    else {
        unreachable!("smtp::send is only called for smtp targets");
    };
    let tls_error = |e: lettre::transport::smtp::Error| DeliveryError::Smtp {
        message: format!("TLS set-up: {e}"),
        retry: false,
    };
    let params = || -> Result<TlsParameters, DeliveryError> {
        let mut p = TlsParameters::builder(host.clone());
        if let Some(pem) = ca_pem {
            p = p.add_root_certificate(Certificate::from_pem(pem).map_err(tls_error)?);
        }
        p.build_rustls().map_err(tls_error)
    };
    let mode = match tls {
        SmtpTls::StartTls => Tls::Required(params()?),
        SmtpTls::Tls => Tls::Wrapper(params()?),
        SmtpTls::None => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(*port)
        .tls(mode)
        .timeout(Some(*timeout));
    if let Some(l) = login {
        builder = builder.credentials(Credentials::new(l.username.clone(), l.password.clone()));
    }
    let mailer = builder.build();
    let email = email(from, to, msg)?;
    mailer
        .send(email)
        .await
        .map(|_| ())
        .map_err(|e| DeliveryError::Smtp {
            // A permanent (5xx) answer will not change; anything else (4xx, network, timeout)
            // happened before the server took the message, so trying later cannot duplicate it.
            retry: !e.is_permanent(),
            message: e.to_string(),
        })
}
