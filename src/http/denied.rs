//! The answer to a denied request: 429 with an RFC 9457 problem body.

use super::fields::retry_after_secs;
use crate::decision::Decision;
use http::{header, HeaderValue, Response, StatusCode};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

/// The problem type the IETF httpapi draft registers for an exceeded quota.
pub const QUOTA_EXCEEDED_TYPE: &str =
    "https://iana.org/assignments/http-problem-types#quota-exceeded";

/// Why a request was denied, for the denial handler.
#[derive(Clone, Debug)]
pub struct Denied {
    pub(crate) violated: Vec<Arc<str>>,
    pub(crate) policy: Arc<str>,
    pub(crate) decision: Decision,
    pub(crate) cost: u32,
    pub(crate) never: Option<u32>,
}

impl Denied {
    /// The names of the policies that denied the request.
    pub fn violated_policies(&self) -> &[Arc<str>] {
        &self.violated
    }

    /// The policy whose decision the response reports (the one with the longest
    /// wait): its name.
    pub fn policy(&self) -> &str {
        &self.policy
    }

    /// That policy's decision.
    pub fn decision(&self) -> &Decision {
        &self.decision
    }

    /// The request's cost.
    pub fn cost(&self) -> u32 {
        self.cost
    }

    /// How long the client should wait; `None` when the cost exceeds what the
    /// policy can ever admit (waiting does not help).
    pub fn retry_after(&self) -> Option<Duration> {
        match self.never {
            Some(_) => None,
            None => self.decision.retry_after(),
        }
    }

    /// The RFC 9457 problem document the default response carries.
    pub fn problem_json(&self) -> String {
        let detail = match (self.never, self.retry_after()) {
            (Some(max), _) => format!(
                "a request of cost {} exceeds the most policy {} can ever admit ({max})",
                self.cost, self.policy
            ),
            (None, Some(wait)) => format!("quota exceeded; retry in {} s", retry_after_secs(wait)),
            (None, None) => "quota exceeded".to_string(),
        };
        let mut out = String::with_capacity(256);
        // Writing to a String cannot fail; names are sanitized to plain characters.
        let _ = write!(
            out,
            "{{\"type\":\"{QUOTA_EXCEEDED_TYPE}\",\
             \"title\":\"Request cannot be satisfied as assigned quota has been exceeded\",\
             \"status\":429,\"detail\":\"{detail}\",\"violated-policies\":["
        );
        for (i, name) in self.violated.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(out, "{sep}\"{name}\"");
        }
        out.push_str("]}");
        out
    }

    /// The default answer: 429, `application/problem+json`, the problem document.
    /// The layer adds the rate-limit fields to whatever a handler answers.
    pub fn default_response(&self) -> Response<String> {
        problem_response(StatusCode::TOO_MANY_REQUESTS, self.problem_json())
    }
}

/// The default answer to a request whose key could not be extracted: 500.
pub(crate) fn key_error_response() -> Response<String> {
    problem_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        "{\"type\":\"about:blank\",\"title\":\"Internal Server Error\",\"status\":500,\
         \"detail\":\"the rate limiter could not identify the client\"}"
            .to_string(),
    )
}

/// A `status` answer carrying an RFC 9457 problem document.
pub(crate) fn problem_response(status: StatusCode, body: String) -> Response<String> {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{DirectLimiter, ManualClock, Quota};

    #[test]
    fn problem_body_names_the_violated_policies() {
        let lim = DirectLimiter::builder(Quota::per_second(1).unwrap())
            .clock(ManualClock::new())
            .build()
            .unwrap();
        let _ = lim.check();
        let d = Denied {
            violated: vec!["a".into(), "b".into()],
            policy: "a".into(),
            decision: lim.check(),
            cost: 1,
            never: None,
        };
        let body = d.problem_json();
        assert!(
            body.contains("\"violated-policies\":[\"a\",\"b\"]"),
            "{body}"
        );
        assert!(body.contains("\"status\":429"));
        assert!(body.contains(QUOTA_EXCEEDED_TYPE));
        assert_eq!(d.default_response().status(), 429);
    }
}
