//! The outbox: digests and alerts as produced, each delivery's record, alert episodes and the
//! digest scheduler's first day. Records that guard against sending twice are flushed to disk
//! before the call returns.

use sled::Transactional;

use super::codec::{self, AlertState, DeliveryRecord, StoredMessage};
use super::keys::{self, MessageKey};
use super::{corrupt, Store, StoreError};

impl Store {
    pub fn message(&self, key: &MessageKey) -> Result<Option<StoredMessage>, StoreError> {
        let t = self.t()?;
        t.messages
            .get(key.as_bytes())?
            .map(|b| codec::decode(&b).map_err(|e| corrupt("messages", e)))
            .transpose()
    }

    /// Stores a digest once: an existing one is kept (what was sent stays what is shown).
    /// Returns whether it was new.
    pub fn put_message_once(
        &self,
        key: &MessageKey,
        msg: &StoredMessage,
    ) -> Result<bool, StoreError> {
        let w = self.writer()?;
        let t = &w.t;
        let new = t
            .messages
            .compare_and_swap(
                key.as_bytes(),
                None as Option<&[u8]>,
                Some(codec::encode(msg)),
            )
            .map_err(|e| self.sled_err(e))?
            .is_ok();
        t.db.flush().map_err(|e| self.sled_err(e))?;
        Ok(new)
    }

    /// Stores a fired alert together with the episode state that says it fired, in one
    /// transaction, so a crash can neither lose the alert nor fire it twice.
    pub fn put_alert(
        &self,
        key: &MessageKey,
        msg: &StoredMessage,
        product: &str,
        label: &str,
        state: AlertState,
    ) -> Result<(), StoreError> {
        let w = self.writer()?;
        let t = &w.t;
        let state_key = keys::alert_state_key(product, label);
        let (m, st) = (codec::encode(msg), codec::encode(&state));
        (&t.messages, &t.alert_state)
            .transaction(|(messages, states)| {
                messages.insert(key.as_bytes(), m.as_slice())?;
                states.insert(state_key.as_slice(), st.as_slice())?;
                Ok::<_, sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| match e {
                sled::transaction::TransactionError::Storage(e) => self.sled_err(e),
                sled::transaction::TransactionError::Abort(()) => {
                    corrupt("messages", "alert transaction aborted")
                }
            })?;
        t.db.flush().map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    /// Digests of `product`, oldest first, as (date, message).
    pub fn digests(&self, product: &str) -> Result<Vec<(String, StoredMessage)>, StoreError> {
        let t = self.t()?;
        let prefix = MessageKey::digest_prefix(product);
        t.messages
            .scan_prefix(&prefix)
            .map(|r| {
                let (k, v) = r?;
                let date = String::from_utf8_lossy(&k[prefix.len()..]).into_owned();
                Ok((date, codec::decode(&v).map_err(|e| corrupt("messages", e))?))
            })
            .collect()
    }

    /// Alerts of `product` fired in `[from_ms, to_ms)`, oldest first.
    pub fn alerts(
        &self,
        product: &str,
        from_ms: i64,
        to_ms: i64,
    ) -> Result<Vec<(MessageKey, StoredMessage)>, StoreError> {
        let t = self.t()?;
        let (lo, hi) = MessageKey::alert_range(product, from_ms, to_ms);
        t.messages
            .range(lo..hi)
            .map(|r| {
                let (k, v) = r?;
                Ok((
                    MessageKey::from_bytes(&k),
                    codec::decode(&v).map_err(|e| corrupt("messages", e))?,
                ))
            })
            .collect()
    }

    pub fn delivery(
        &self,
        key: &MessageKey,
        name: &str,
    ) -> Result<Option<DeliveryRecord>, StoreError> {
        let t = self.t()?;
        t.deliveries
            .get(key.delivery(name))?
            .map(|b| codec::decode(&b).map_err(|e| corrupt("deliveries", e)))
            .transpose()
    }

    /// Writes a delivery record and flushes it to disk before returning: the record written
    /// before an attempt must survive a crash during that attempt.
    pub fn set_delivery(
        &self,
        key: &MessageKey,
        name: &str,
        rec: &DeliveryRecord,
    ) -> Result<(), StoreError> {
        let w = self.writer()?;
        let t = &w.t;
        t.deliveries
            .insert(key.delivery(name), codec::encode(rec))
            .map_err(|e| self.sled_err(e))?;
        t.deliveries.flush().map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    pub fn alert_state(&self, product: &str, label: &str) -> Result<AlertState, StoreError> {
        let t = self.t()?;
        Ok(t.alert_state
            .get(keys::alert_state_key(product, label))?
            .map(|b| codec::decode(&b).map_err(|e| corrupt("alert_state", e)))
            .transpose()?
            .unwrap_or_default())
    }

    pub fn set_alert_state(
        &self,
        product: &str,
        label: &str,
        state: AlertState,
    ) -> Result<(), StoreError> {
        let w = self.writer()?;
        let t = &w.t;
        t.alert_state
            .insert(keys::alert_state_key(product, label), codec::encode(&state))
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }

    /// The first local day ("YYYY-MM-DD") the digest scheduler considered for `product`.
    pub fn digest_since(&self, product: &str) -> Result<Option<String>, StoreError> {
        let t = self.t()?;
        Ok(t.meta
            .get(keys::digest_since_key(product))?
            .map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    pub fn set_digest_since(&self, product: &str, date: &str) -> Result<(), StoreError> {
        let w = self.writer()?;
        let t = &w.t;
        t.meta
            .insert(keys::digest_since_key(product), date.as_bytes())
            .map_err(|e| self.sled_err(e))?;
        Ok(())
    }
}
