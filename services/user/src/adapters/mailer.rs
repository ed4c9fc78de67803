//! Mail through lettre: SMTP when a server is configured, `.eml` files in a directory
//! otherwise (development without a mail server).

use anyhow::Context as _;
use async_trait::async_trait;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport as _, Message, Tokio1Executor,
};

use crate::app::ports::{Mail, Mailer};
use crate::config::MailSettings;

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// The directory is made on first use: a service that never mails needs no writable disk.
    Files {
        files: AsyncFileTransport<Tokio1Executor>,
        dir: String,
    },
}

/// The [`Mailer`] the service runs with.
pub struct LettreMailer {
    transport: Transport,
    from: Mailbox,
}

impl std::fmt::Debug for LettreMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.transport {
            Transport::Smtp(_) => "smtp",
            Transport::Files { .. } => "files",
        };
        f.debug_struct("LettreMailer")
            .field("transport", &kind)
            .field("from", &self.from)
            .finish()
    }
}

impl LettreMailer {
    pub fn from_settings(settings: &MailSettings) -> anyhow::Result<Self> {
        let from = settings.from.parse().context("mail.from")?;
        let url = settings.smtp_url.expose();
        let transport = if url.is_empty() {
            Transport::Files {
                files: AsyncFileTransport::new(&settings.dir),
                dir: settings.dir.clone(),
            }
        } else {
            Transport::Smtp(
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .context("mail.smtp_url")?
                    .timeout(Some(settings.timeout))
                    .build(),
            )
        };
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for LettreMailer {
    async fn send(&self, mail: &Mail) -> anyhow::Result<()> {
        let to = Mailbox::new(
            Some(mail.to_name.clone()),
            mail.to_email.parse().context("the customer's address")?,
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&mail.subject)
            .message_id(Some(format!("<{}@ferris-shop>", mail.id)))
            .header(ContentType::TEXT_PLAIN)
            .body(mail.text.clone())
            .context("building the mail")?;
        match &self.transport {
            Transport::Smtp(smtp) => {
                smtp.send(message).await.context("sending by SMTP")?;
            }
            Transport::Files { files, dir } => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .with_context(|| format!("creating the mail directory {dir}"))?;
                files.send(message).await.context("writing the .eml file")?;
            }
        }
        metrics::counter!("user_mails_sent_total").increment(1);
        Ok(())
    }
}
