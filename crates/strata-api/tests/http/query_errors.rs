//! Error answers of the query API: status, `errorType` and Prometheus' messages.

use serde_json::Value;

use crate::support::start;

#[tokio::test]
async fn malformed_requests_answer_like_prometheus() {
    let srv = start().await;
    // (path, status, errorType, exact message or None when promql-parser's text differs)
    let cases: &[(&str, u16, &str, Option<&str>)] = &[
        ("/api/v1/query?query=foo(", 400, "bad_data", None),
        (
            "/api/v1/query?query=up&time=abc",
            400,
            "bad_data",
            Some(
                "invalid parameter \"time\": invalid time value for 'time': cannot parse \"abc\" to a valid timestamp",
            ),
        ),
        (
            "/api/v1/query?query=up&limit=x",
            400,
            "bad_data",
            Some("invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax"),
        ),
        (
            "/api/v1/query?query=up&limit=-1",
            400,
            "bad_data",
            Some("invalid parameter \"limit\": limit must be non-negative"),
        ),
        (
            "/api/v1/query?query=up&timeout=x",
            400,
            "bad_data",
            Some("invalid parameter \"timeout\": cannot parse \"x\" to a valid duration"),
        ),
        (
            "/api/v1/query?query=up&lookback_delta=x",
            400,
            "bad_data",
            Some("error parsing lookback delta duration: cannot parse \"x\" to a valid duration"),
        ),
        ("/api/v1/query", 400, "bad_data", None),
        (
            "/api/v1/query_range?query=up&start=10&end=5&step=1",
            400,
            "bad_data",
            Some("invalid parameter \"end\": end timestamp must not be before start time"),
        ),
        (
            "/api/v1/query_range?query=up&start=1&end=5&step=0",
            400,
            "bad_data",
            Some(
                "invalid parameter \"step\": zero or negative query resolution step widths are not accepted. Try a positive integer",
            ),
        ),
        (
            "/api/v1/query_range?query=up&start=1&end=5",
            400,
            "bad_data",
            Some("invalid parameter \"step\": cannot parse \"\" to a valid duration"),
        ),
        (
            "/api/v1/query_range?query=up&start=1&end=50000&step=1",
            400,
            "bad_data",
            Some(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
            ),
        ),
        (
            "/api/v1/query_range?query=up&start=x&end=5&step=1",
            400,
            "bad_data",
            Some("invalid parameter \"start\": cannot parse \"x\" to a valid timestamp"),
        ),
        (
            "/api/v1/query_range?query=up&end=5&step=1",
            400,
            "bad_data",
            Some("invalid parameter \"start\": cannot parse \"\" to a valid timestamp"),
        ),
        (
            "/api/v1/series",
            400,
            "bad_data",
            Some("no match[] parameter provided"),
        ),
        (
            "/api/v1/series?match[]=%7Bjob%3D~%22.*%22%7D",
            400,
            "bad_data",
            Some(
                "invalid parameter \"match[]\": match[] must contain at least one non-empty matcher",
            ),
        ),
        ("/api/v1/series?match[]=up%7B", 400, "bad_data", None),
        (
            "/api/v1/series?match[]=up&limit=x",
            400,
            "bad_data",
            Some("invalid parameter \"limit\": strconv.Atoi: parsing \"x\": invalid syntax"),
        ),
        (
            "/api/v1/labels?start=x",
            400,
            "bad_data",
            Some(
                "invalid parameter \"start\": invalid time value for 'start': cannot parse \"x\" to a valid timestamp",
            ),
        ),
        (
            "/api/v1/label/foo/values?start=x",
            400,
            "bad_data",
            Some(
                "invalid parameter \"start\": invalid time value for 'start': cannot parse \"x\" to a valid timestamp",
            ),
        ),
        (
            "/api/v1/metadata?limit=x",
            400,
            "bad_data",
            Some("limit must be a number"),
        ),
        ("/api/v1/format_query?query=foo(", 400, "bad_data", None),
        (
            "/api/v1/query?query=1%2Bon()%20%22a%22",
            400,
            "bad_data",
            None,
        ),
    ];
    for (path, status, ty, msg) in cases {
        let (st, text) = srv.get(path).await;
        let v: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        assert_eq!(st, *status, "{path}: {text}");
        assert_eq!(v["status"], "error", "{path}");
        assert_eq!(v["errorType"], *ty, "{path}: {text}");
        if let Some(m) = msg {
            assert_eq!(v["error"], *m, "{path}");
        }
    }
}

#[tokio::test]
async fn label_values_only_by_get() {
    let srv = start().await;
    let resp = srv
        .client
        .post(srv.url("/api/v1/label/job/values"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 405);
}
