//! Validation and normalisation of one remote write series' labels, on byte slices of the body.

use strata_model::METRIC_NAME;
use strata_model::labels::put_uvarint;
use strata_proto::LabelRef;

use super::RejectCause;

/// A series' labels broke a rule; `detail` says which label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LabelProblem {
    pub(crate) cause: RejectCause,
    pub(crate) detail: String,
}

impl LabelProblem {
    fn new(cause: RejectCause, detail: impl Into<String>) -> Self {
        LabelProblem {
            cause,
            detail: detail.into(),
        }
    }
}

/// Validates `labels` in place, except for UTF-8 (see [`check_utf8`]): names non-empty, no
/// duplicate names, at most `max_labels` labels, `__name__` present with a non-empty value. On
/// success the labels are sorted by name and labels with empty values are gone. Allocates only
/// on failure (for the message) and never copies label bytes.
pub(crate) fn normalize_labels(
    labels: &mut Vec<LabelRef<'_>>,
    max_labels: usize,
) -> Result<(), LabelProblem> {
    if labels.len() > max_labels {
        return Err(LabelProblem::new(
            RejectCause::TooManyLabels,
            format!("{} labels, the limit is {max_labels}", labels.len()),
        ));
    }
    if labels.iter().any(|l| l.name.is_empty()) {
        return Err(LabelProblem::new(
            RejectCause::EmptyLabelName,
            "empty label name",
        ));
    }
    let sorted = labels.windows(2).all(|w| w[0].name < w[1].name);
    if !sorted {
        labels.sort_unstable_by(|a, b| a.name.cmp(b.name));
        if let Some(w) = labels.windows(2).find(|w| w[0].name == w[1].name) {
            return Err(LabelProblem::new(
                RejectCause::DuplicateLabelName,
                format!("duplicate label name {}", lossy_quoted(w[0].name)),
            ));
        }
    }
    labels.retain(|l| !l.value.is_empty());
    if !labels.iter().any(|l| l.name == METRIC_NAME.as_bytes()) {
        return Err(LabelProblem::new(
            RejectCause::MissingMetricName,
            "missing or empty __name__ label",
        ));
    }
    Ok(())
}

/// Checks that every name and value is UTF-8, given the labels' canonical bytes.
///
/// Fast path: when the canonical bytes are all ASCII (every length below 128 and every
/// character ASCII, by far the common case), they are valid; one word-at-a-time scan replaces
/// a UTF-8 validation per name and value.
pub(crate) fn check_utf8(labels: &[LabelRef<'_>], canonical: &[u8]) -> Result<(), LabelProblem> {
    if canonical.is_ascii() {
        return Ok(());
    }
    for l in labels {
        if std::str::from_utf8(l.name).is_err() {
            return Err(LabelProblem::new(
                RejectCause::InvalidUtf8,
                format!("label name {} is not valid UTF-8", lossy_quoted(l.name)),
            ));
        }
        if std::str::from_utf8(l.value).is_err() {
            return Err(LabelProblem::new(
                RejectCause::InvalidUtf8,
                format!("value of label {} is not valid UTF-8", lossy_quoted(l.name)),
            ));
        }
    }
    Ok(())
}

/// Appends the canonical encoding (see `strata_model::labels`) of labels that
/// [`normalize_labels`] accepted.
pub(crate) fn encode_canonical(labels: &[LabelRef<'_>], out: &mut Vec<u8>) {
    for l in labels {
        put_len(out, l.name.len());
        out.extend_from_slice(l.name);
        put_len(out, l.value.len());
        out.extend_from_slice(l.value);
    }
}

fn put_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        put_uvarint(out, len as u64);
    }
}

/// Formats labels as Prometheus does (`{__name__="up", job="node"}`), replacing invalid UTF-8.
/// Used only for error messages.
pub(crate) fn format_series(labels: &[LabelRef<'_>]) -> String {
    let mut s = String::from("{");
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            s.push_str(", ");
        }
        s.push_str(&String::from_utf8_lossy(l.name));
        s.push('=');
        s.push_str(&lossy_quoted(l.value));
    }
    s.push('}');
    s
}

fn lossy_quoted(b: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_model::Labels;

    fn l(pairs: &[(&'static [u8], &'static [u8])]) -> Vec<LabelRef<'static>> {
        pairs
            .iter()
            .map(|&(name, value)| LabelRef { name, value })
            .collect()
    }

    #[test]
    fn sorts_drops_empty_values_and_matches_model_canonical_bytes() {
        let mut labels = l(&[(b"job", b"node"), (b"__name__", b"up"), (b"a", b"")]);
        normalize_labels(&mut labels, 10).unwrap();
        let mut got = Vec::new();
        encode_canonical(&labels, &mut got);
        let model = Labels::from_pairs([("job", "node"), ("__name__", "up")]).unwrap();
        assert_eq!(got, model.to_canonical());
    }

    #[test]
    fn rejects_each_rule_with_its_cause() {
        let cases: [(Vec<LabelRef<'static>>, RejectCause); 6] = [
            (
                l(&[(b"__name__", b"x"), (b"", b"v")]),
                RejectCause::EmptyLabelName,
            ),
            (
                l(&[(b"__name__", b"x"), (b"a\xff", b"v")]),
                RejectCause::InvalidUtf8,
            ),
            (
                l(&[(b"__name__", b"x"), (b"a", b"\xc3")]),
                RejectCause::InvalidUtf8,
            ),
            (
                l(&[(b"b", b"1"), (b"__name__", b"x"), (b"b", b"2")]),
                RejectCause::DuplicateLabelName,
            ),
            (l(&[(b"job", b"x")]), RejectCause::MissingMetricName),
            (
                l(&[(b"__name__", b""), (b"job", b"x")]),
                RejectCause::MissingMetricName,
            ),
        ];
        for (mut labels, cause) in cases {
            let got = normalize_labels(&mut labels, 10).and_then(|()| {
                let mut canonical = Vec::new();
                encode_canonical(&labels, &mut canonical);
                check_utf8(&labels, &canonical)
            });
            let got = got.unwrap_err();
            assert_eq!(got.cause, cause, "{}", got.detail);
        }
        let mut many = l(&[(b"__name__", b"x"), (b"a", b"1"), (b"b", b"2")]);
        assert_eq!(
            normalize_labels(&mut many, 2).unwrap_err().cause,
            RejectCause::TooManyLabels
        );
    }

    #[test]
    fn accepts_utf8_names_as_prometheus_3_does() {
        let mut labels = l(&[
            ("__name__".as_bytes(), "température.°C".as_bytes()),
            ("é t".as_bytes(), b"v"),
        ]);
        normalize_labels(&mut labels, 10).unwrap();
        assert_eq!(
            format_series(&labels),
            "{__name__=\"température.°C\", é t=\"v\"}"
        );
    }
}
