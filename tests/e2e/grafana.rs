//! A replay of the requests Grafana's Prometheus data source sends (health check, flavour
//! detection, metric browser, label and series lookups, range queries by POST with step
//! alignment, metadata, the exemplars probe) against Strata and a real Prometheus 3.5 holding
//! the same data: the statuses and the answers' data must be equal.

use crate::harness::api::{
    Answer, Twin, count, dataset, json_diff, normalize, now_s_minus, url_encode,
};

/// One request as Grafana sends it.
enum Req {
    Get(String),
    Post(&'static str, Vec<(&'static str, String)>),
}

fn send(twin: &Twin, base: &str, req: &Req) -> Answer {
    match req {
        Req::Get(path) => twin.get(base, path),
        Req::Post(path, form) => {
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            twin.post_form(base, path, &pairs)
        }
    }
}

#[test]
fn grafana_datasource_requests_get_the_same_answers() {
    let dir = tempfile::tempdir().unwrap();
    let twin = Twin::start(dir.path());
    let end = now_s_minus(120);
    twin.write_both(&dataset(end));
    let [strata, prom] = twin.bases();

    // Flavour detection: Grafana treats a buildinfo without `features` as plain Prometheus and
    // reads `version` as a semantic version.
    for base in [&strata, &prom] {
        let a = twin.get(base, "/api/v1/status/buildinfo");
        assert_eq!(a.status, 200, "{base}");
        let v = a.json();
        assert!(v["data"].get("features").is_none(), "{base}: {v}");
        let version = v["data"]["version"].as_str().unwrap_or("");
        let major: u32 = version
            .split('.')
            .next()
            .and_then(|m| m.parse().ok())
            .unwrap_or(0);
        assert!(major >= 3, "{base}: version {version:?}");
    }

    let step = 30;
    let (range_start, range_end) = ((end - 1200) / step * step, end / step * step);
    let (s, e) = ((end - 3600).to_string(), end.to_string());
    let se = format!("start={s}&end={e}");
    let up_match = url_encode("{__name__=\"up\"}");
    let requests = vec![
        // Health check.
        Req::Post("/api/v1/query", vec![("query", "1+1".into()), ("time", e.clone())]),
        // Metric browser and query builder.
        Req::Get(format!("/api/v1/label/__name__/values?{se}")),
        Req::Get(format!("/api/v1/labels?{se}")),
        Req::Post("/api/v1/labels", vec![("match[]", "{__name__=\"up\"}".into()), ("start", s.clone()), ("end", e.clone())]),
        Req::Get(format!("/api/v1/label/job/values?match[]={up_match}&{se}")),
        Req::Get(format!("/api/v1/label/instance/values?match[]={}&{se}", url_encode("{__name__=\"up\",job=\"node\"}"))),
        Req::Get(format!("/api/v1/label/U__http_2e_method/values?{se}")),
        Req::Get(format!("/api/v1/series?match[]={up_match}&{se}&limit=40000")),
        Req::Get(format!("/api/v1/series?match[]={}&{se}&limit=2", url_encode("{__name__=~\"node_.+\",mode=\"idle\"}"))),
        Req::Get("/api/v1/metadata".into()),
        Req::Get("/api/v1/metadata?metric=up".to_string()),
        // Panels: range queries by POST, start and end aligned to the step.
        Req::Post(
            "/api/v1/query_range",
            vec![
                ("query", "sum by (code) (rate(http_requests_total{job=\"api\"}[2m]))".into()),
                ("start", range_start.to_string()),
                ("end", range_end.to_string()),
                ("step", step.to_string()),
            ],
        ),
        Req::Post(
            "/api/v1/query_range",
            vec![
                ("query", "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[$__rate_interval])))".replace("$__rate_interval", "1m")),
                ("start", range_start.to_string()),
                ("end", range_end.to_string()),
                ("step", "30s".into()),
            ],
        ),
        Req::Post(
            "/api/v1/query_range",
            vec![
                ("query", "weird_values".into()),
                ("start", range_start.to_string()),
                ("end", range_end.to_string()),
                ("step", "60".into()),
            ],
        ),
        // Instant panels (table, stat).
        Req::Post("/api/v1/query", vec![("query", "topk(2, node_load1)".into()), ("time", e.clone())]),
        Req::Get(format!("/api/v1/query?query={}&time={e}", url_encode("count(up == 1)"))),
        // The exemplars probe, with millisecond start and end.
        Req::Get(format!(
            "/api/v1/query_exemplars?query={}&start={}.123&end={}.456",
            url_encode("rate(http_requests_total[5m])"),
            end - 3600,
            end
        )),
        // A query with a syntax error typed into the editor.
        Req::Post("/api/v1/query_range", vec![("query", "rate(up[5m]".into()), ("start", range_start.to_string()), ("end", range_end.to_string()), ("step", "30".into())]),
    ];

    for req in &requests {
        let a = send(&twin, &strata, req);
        let b = send(&twin, &prom, req);
        let what = match req {
            Req::Get(p) => format!("GET {p}"),
            Req::Post(p, f) => format!("POST {p} {f:?}"),
        };
        assert_eq!(
            a.status, b.status,
            "{what}\nstrata: {}\nprometheus: {}",
            a.body, b.body
        );
        let (mut ja, mut jb) = (a.json(), b.json());
        normalize(&mut ja);
        normalize(&mut jb);
        assert_eq!(ja["status"], jb["status"], "{what}");
        assert_eq!(ja["errorType"], jb["errorType"], "{what}");
        if let Some(d) = json_diff(&ja["data"], &jb["data"], "data") {
            panic!("{what}: {d}\nstrata: {}\nprometheus: {}", a.body, b.body);
        }
        assert_eq!(count(&ja, "warnings"), count(&jb, "warnings"), "{what}");
        if b.status == 200 {
            assert!(
                a.content_type.starts_with("application/json"),
                "{what}: {}",
                a.content_type
            );
        }
    }
}
