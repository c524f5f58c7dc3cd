//! The Messenger Profile API (A15): what a person sees before the conversation starts.

use serde_json::{Value, json};
use switchboard_domain::SendError;

use super::MessengerClient;

/// The page-level settings Switchboard manages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageProfile {
    /// Payload of the Get Started button (`None`: no button is set by us).
    pub get_started_payload: Option<String>,
    /// Greeting per Messenger locale (`default`, `it_IT`, …), ≤ 160 characters each.
    pub greetings: Vec<(String, String)>,
    /// Ice breakers (≤ 4): question and postback payload, for the default locale.
    pub ice_breakers: Vec<(String, String)>,
}

/// Messenger wants full locales (`it_IT`); automations may say just `it`.
pub fn messenger_locale(locale: &str) -> String {
    if locale == "default" || locale.contains('_') {
        return locale.to_owned();
    }
    let region = match locale {
        "en" => "US",
        "ar" => "AR",
        "pt" => "BR",
        "zh" => "CN",
        "ja" => "JP",
        "ko" => "KR",
        "sv" => "SE",
        "da" => "DK",
        "nb" => "NO",
        "cs" => "CZ",
        "el" => "GR",
        "he" => "IL",
        "hi" => "IN",
        "vi" => "VN",
        "uk" => "UA",
        other => return format!("{other}_{}", other.to_ascii_uppercase()),
    };
    format!("{locale}_{region}")
}

impl PageProfile {
    /// The `POST /me/messenger_profile` body.
    pub fn body(&self) -> Value {
        let mut body = serde_json::Map::new();
        if let Some(payload) = &self.get_started_payload {
            body.insert("get_started".into(), json!({ "payload": payload }));
        }
        if !self.greetings.is_empty() {
            body.insert(
                "greeting".into(),
                self.greetings
                    .iter()
                    .map(|(locale, text)| json!({ "locale": messenger_locale(locale), "text": text }))
                    .collect(),
            );
        }
        if !self.ice_breakers.is_empty() {
            body.insert(
                "ice_breakers".into(),
                json!([{
                    "locale": "default",
                    "call_to_actions": self.ice_breakers.iter()
                        .map(|(question, payload)| json!({ "question": question, "payload": payload }))
                        .collect::<Vec<_>>(),
                }]),
            );
        }
        Value::Object(body)
    }
}

impl MessengerClient {
    /// Sets Get Started, greeting and ice breakers. Nothing is sent when there is nothing to set.
    pub async fn set_page_profile(&self, profile: &PageProfile) -> Result<(), SendError> {
        let body = profile.body();
        if body.as_object().is_some_and(|b| b.is_empty()) {
            return Ok(());
        }
        self.post_json("me/messenger_profile", &body)
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_uses_messenger_locales_and_skips_what_is_unset() {
        let p = PageProfile {
            get_started_payload: Some("GET_STARTED".into()),
            greetings: vec![
                ("default".into(), "Hi {{user_first_name}}!".into()),
                ("it".into(), "Ciao!".into()),
            ],
            ice_breakers: vec![("Opening hours?".into(), "FAQ:hours".into())],
        };
        let body = p.body();
        assert_eq!(body["get_started"]["payload"], "GET_STARTED");
        assert_eq!(body["greeting"][1]["locale"], "it_IT");
        assert_eq!(
            body["ice_breakers"][0]["call_to_actions"][0]["payload"],
            "FAQ:hours"
        );
        assert_eq!(PageProfile::default().body(), json!({}));
        assert_eq!(messenger_locale("en"), "en_US");
        assert_eq!(messenger_locale("pt_PT"), "pt_PT");
    }
}
