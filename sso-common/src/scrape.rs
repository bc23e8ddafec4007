//! Reading a metrics endpoint in tests: one scrape, parsed with a Prometheus text parser, and
//! the figures a test asserts on.

use prometheus_parse::{Sample, Scrape, Value};

/// A parsed scrape of a metrics endpoint.
#[derive(Debug)]
pub struct Figures(Vec<Sample>);

impl Figures {
    /// Scrapes `GET http://127.0.0.1:{port}/metrics`.
    ///
    /// # Panics
    /// When the endpoint does not answer `200` with a `text/plain` body in the Prometheus text
    /// format.
    pub async fn scrape(port: u16) -> Self {
        let response = reqwest::get(format!("http://127.0.0.1:{port}/metrics"))
            .await
            .expect("the metrics endpoint answers");
        assert_eq!(response.status(), 200);
        let content_type = response.headers()["content-type"]
            .to_str()
            .expect("an ASCII content type");
        assert!(content_type.starts_with("text/plain"), "{content_type}");
        let text = response.text().await.expect("a text body");
        let scrape = Scrape::parse(text.lines().map(|line| Ok(line.to_owned())))
            .expect("the Prometheus text format");
        Self(scrape.samples)
    }

    /// The value of the counter or gauge `metric` with (at least) `labels`, summed over the
    /// series that match; 0 when none does.
    ///
    /// # Panics
    /// When `metric` is a histogram or summary.
    pub fn value(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(metric, labels)
            .map(|sample| match &sample.value {
                Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
                other => panic!("{metric} is not a single value: {other:?}"),
            })
            .sum()
    }

    /// How many observations the histogram `metric` with `labels` holds.
    ///
    /// # Panics
    /// When `metric` is not a histogram.
    pub fn observations(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(metric, labels)
            .map(|sample| match &sample.value {
                Value::Histogram(buckets) => buckets
                    .iter()
                    .find(|bucket| bucket.less_than.is_infinite())
                    .map_or(0.0, |bucket| bucket.count),
                other => panic!("{metric} is not a histogram: {other:?}"),
            })
            .sum()
    }

    /// The samples of `metric` carrying (at least) `labels`.
    pub fn matching<'a>(
        &'a self,
        metric: &'a str,
        labels: &'a [(&'a str, &'a str)],
    ) -> impl Iterator<Item = &'a Sample> {
        self.0.iter().filter(move |sample| {
            sample.metric == metric
                && labels
                    .iter()
                    .all(|(name, value)| sample.labels.get(name) == Some(*value))
        })
    }

    /// Every value `label` takes in the series of `metric`.
    pub fn label_values(&self, metric: &str, label: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|sample| sample.metric == metric)
            .filter_map(|sample| sample.labels.get(label).map(str::to_owned))
            .collect()
    }

    /// Asserts that the counter or gauge `metric` with `labels` grew by at least `by` since
    /// `before`.
    ///
    /// # Panics
    /// When it did not.
    pub fn assert_moved(&self, before: &Self, metric: &str, labels: &[(&str, &str)], by: f64) {
        let delta = self.value(metric, labels) - before.value(metric, labels);
        assert!(
            delta >= by,
            "{metric}{labels:?} moved by {delta}, expected at least {by}"
        );
    }

    /// Asserts that the histogram `metric` with `labels` holds at least `by` more observations
    /// than `before`.
    ///
    /// # Panics
    /// When it does not.
    pub fn assert_observed(&self, before: &Self, metric: &str, labels: &[(&str, &str)], by: f64) {
        let delta = self.observations(metric, labels) - before.observations(metric, labels);
        assert!(
            delta >= by,
            "{metric}{labels:?} observed {delta} more, expected at least {by}"
        );
    }
}
