//! What the network does to each request: the plan (probabilities, from the
//! seed), the switch that turns faults off, scripted losses for tests, and the
//! [`Fate`] drawn for every call.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use parking_lot::Mutex;

use crate::rng::SimRng;
use crate::trace::Trace;

/// How often each fault happens.
#[derive(Debug, Clone, Default)]
pub struct FaultPlan {
    /// Probability that the connection breaks just before a request is delivered.
    pub lose_request: f64,
    /// Probability that a response is lost after the broker processed the request.
    pub lose_response: f64,
    /// Given a lost response, probability that the connection resets (every call on
    /// it fails at once) rather than the caller waiting until it times out.
    pub reset_on_loss: f64,
    /// Probability that a request, and independently its response, is delayed.
    pub delay: f64,
    /// Longest delay.
    pub max_delay: Duration,
    /// How long a caller waits for a lost response before it gets a timeout.
    pub lost_wait: Duration,
}

impl FaultPlan {
    /// A plan drawn from `rng`: each fault between never and fairly often.
    pub fn random(rng: &SimRng, lost_wait: Duration) -> FaultPlan {
        FaultPlan {
            lose_request: rng.probability(0.05),
            lose_response: rng.probability(0.2),
            reset_on_loss: rng.probability(1.0),
            delay: rng.probability(0.5),
            max_delay: rng.millis(1..300),
            lost_wait,
        }
    }
}

/// How a lost response shows to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loss {
    /// No answer: the caller times out.
    Timeout,
    /// The connection resets: the caller (and every call pending on it) fails.
    Reset,
}

/// What happens to one call.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fate {
    /// Held back this long before it reaches the broker.
    pub request_delay: Duration,
    /// The connection breaks before the request reaches the broker.
    pub lose_request: bool,
    /// The response is held back this long.
    pub response_delay: Duration,
    /// The response is lost after the broker processed the request.
    pub lose_response: Option<Loss>,
}

impl fmt::Display for Fate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "delay {}+{}ms", self.request_delay.as_millis(), self.response_delay.as_millis())?;
        if self.lose_request {
            f.write_str(" request lost")?;
        }
        match self.lose_response {
            Some(loss) => write!(f, " response lost ({loss:?})"),
            None => Ok(()),
        }
    }
}

/// The faults of one network: random from a plan and a seed, scripted, or both.
pub struct Faults {
    enabled: AtomicBool,
    plan: FaultPlan,
    rng: Option<SimRng>,
    scripted: Mutex<HashMap<i16, usize>>,
    trace: Option<Trace>,
}

impl Faults {
    /// A network that only loses what is scripted with [`Faults::lose_next_responses`].
    pub fn scripted() -> Faults {
        Faults {
            enabled: AtomicBool::new(true),
            plan: FaultPlan::default(),
            rng: None,
            scripted: Mutex::default(),
            trace: None,
        }
    }

    /// A network that draws a fate for every call from `plan` and `rng`, and records
    /// each call and its fate in `trace`.
    pub fn random(plan: FaultPlan, rng: SimRng, trace: Trace) -> Faults {
        Faults { rng: Some(rng), plan, trace: Some(trace), ..Faults::scripted() }
    }

    /// Turns random faults on or off (scripted losses still happen).
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Release);
    }

    /// The next `n` responses of `api` are lost: the caller times out at once.
    pub fn lose_next_responses(&self, api: ApiKey, n: usize) {
        *self.scripted.lock().entry(api as i16).or_default() += n;
    }

    /// How long a caller waits for a lost response.
    pub fn lost_wait(&self) -> Duration {
        self.plan.lost_wait
    }

    /// Draws the fate of a call of `api` (None: an API this client does not know).
    pub fn fate(&self, api: Option<ApiKey>) -> Fate {
        let mut fate = match &self.rng {
            Some(rng) if self.enabled.load(Ordering::Acquire) => self.draw(rng),
            _ => Fate::default(),
        };
        if let Some(api) = api {
            let mut scripted = self.scripted.lock();
            if let Some(n) = scripted.get_mut(&(api as i16)).filter(|n| **n > 0) {
                *n -= 1;
                fate.lose_response = Some(Loss::Timeout);
            }
        }
        if let Some(trace) = &self.trace {
            trace.record(format_args!("call {api:?}: {fate}"));
        }
        fate
    }

    fn draw(&self, rng: &SimRng) -> Fate {
        let plan = &self.plan;
        let max = plan.max_delay.as_millis() as u64;
        let delay = || if rng.chance(plan.delay) { rng.millis(0..max) } else { Duration::ZERO };
        let request_delay = delay();
        let response_delay = delay();
        let lose_request = rng.chance(plan.lose_request);
        let lose_response = rng.chance(plan.lose_response).then(|| {
            if rng.chance(plan.reset_on_loss) {
                Loss::Reset
            } else {
                Loss::Timeout
            }
        });
        Fate { request_delay, lose_request, response_delay, lose_response }
    }
}
