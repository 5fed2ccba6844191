//! The control plane: create-upload + `PUT` 1 KiB + complete, cycles per second at several
//! concurrencies with p50/p99 latency; the `PUT` step alone, next to nginx's WebDAV `PUT` of
//! the same 1 KiB objects at the same concurrency; `GET /v1/files/{id}` per second. The
//! server runs without workers (no processing competes for the cores) on each deployment.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use filegate_api::{CompleteUpload, CreateUpload, UploadInstructions};
use filegate_client::Client;
use futures::{StreamExt as _, TryStreamExt as _};

use crate::deploy::{Deployment, Kind};
use crate::load::{Bound, LoadResult, closed_loop};
use crate::nginx::Nginx;
use crate::process::Filegate;
use crate::report::{Section, target_line};
use crate::stats::{Samples, millis, ratio};

/// The size of each cycle's object.
pub(crate) const OBJECT: usize = 1024;

/// How long each measurement runs, and at which concurrencies.
#[derive(Debug, Clone)]
pub struct Plan {
    pub duration: Duration,
    pub concurrency: Vec<usize>,
}

/// Rate and latency of one kind of operation over the runs.
#[derive(Default, Clone)]
pub(crate) struct Measured {
    pub(crate) rate: Samples,
    pub(crate) p50: Samples,
    pub(crate) p99: Samples,
}

impl Measured {
    pub(crate) fn push(&mut self, r: &LoadResult) {
        self.rate.push(r.rate());
        self.p50.push(millis(r.p50()));
        self.p99.push(millis(r.p99()));
    }

    fn cells(&self) -> [String; 3] {
        [self.rate.summary(0), self.p50.summary(2), self.p99.summary(2)]
    }
}

#[derive(Default, Clone)]
struct AtConcurrency {
    cycles: Measured,
    put: Measured,
    nginx_put: Measured,
    get: Measured,
}

/// A created upload: its file id and where its bytes go.
struct Slot {
    file_id: String,
    url: String,
    headers: std::collections::BTreeMap<String, String>,
}

async fn create(client: &Client, n: usize, prefix: &str) -> anyhow::Result<Slot> {
    let created = client
        .create_upload(&CreateUpload {
            bucket: "default".into(),
            path: format!("{prefix}/{n:08}.bin"),
            size: OBJECT as u64,
            content_type: Some("application/octet-stream".into()),
            multipart: Some(false),
            ..CreateUpload::default()
        })
        .await?;
    match created.upload {
        Some(UploadInstructions::Put { url, headers }) => Ok(Slot {
            file_id: created.file_id,
            url,
            headers,
        }),
        _ => bail!("expected a single PUT"),
    }
}

/// One upload cycle: create, `PUT` the 1 KiB body, complete.
pub(crate) async fn cycle(client: &Client, body: Bytes, n: usize, prefix: &str) -> anyhow::Result<()> {
    let slot = create(client, n, prefix).await?;
    client.put_signed(&slot.url, &slot.headers, body).await?;
    client
        .complete_upload(&slot.file_id, &CompleteUpload::default())
        .await?;
    Ok(())
}

/// `count` uploads created `concurrency` at a time (not measured).
async fn create_many(client: &Client, count: usize, prefix: &str) -> anyhow::Result<Vec<Slot>> {
    futures::stream::iter(0..count)
        .map(|n| create(client, n, prefix))
        .buffer_unordered(64)
        .try_collect()
        .await
}

pub async fn control_plane(
    work: &Path,
    runs: usize,
    plan: &Plan,
    deployment: &Deployment,
    nginx: Option<&Nginx>,
) -> anyhow::Result<Section> {
    let mut results = vec![AtConcurrency::default(); plan.concurrency.len()];
    let body = Bytes::from(vec![0x5au8; OBJECT]);
    for run in 0..runs {
        let dir = work.join(format!("control-{run}"));
        let server = Filegate::serve(&dir, false, &deployment.env).await?;
        let client = server.client()?;
        for (at, &c) in results.iter_mut().zip(&plan.concurrency) {
            let bound = Bound {
                duration: plan.duration,
                max_ops: 1_000_000,
            };
            let (cl, b, prefix) = (client.clone(), body.clone(), format!("cycle-{run}-{c}"));
            let cycles = closed_loop(c, bound, move |n| {
                let (cl, b, prefix) = (cl.clone(), b.clone(), prefix.clone());
                async move { cycle(&cl, b, n, &prefix).await }
            })
            .await
            .with_context(|| format!("create + PUT + complete at concurrency {c}"))?;
            at.cycles.push(&cycles);

            // The PUT alone: uploads created beforehand, twice as many as the cycles
            // managed (the PUTs stop when they run out; the rate is of the time taken).
            let count = ((cycles.rate() * plan.duration.as_secs_f64() * 2.0) as usize).clamp(64, 20_000);
            let slots = Arc::new(create_many(&client, count, &format!("put-{run}-{c}")).await?);
            let bound = Bound {
                duration: plan.duration,
                max_ops: slots.len(),
            };
            let (cl, b, s) = (client.clone(), body.clone(), slots.clone());
            let puts = closed_loop(c, bound, move |n| {
                let (cl, b, s) = (cl.clone(), b.clone(), s.clone());
                async move {
                    let slot = &s[n];
                    cl.put_signed(&slot.url, &slot.headers, b).await?;
                    Ok(())
                }
            })
            .await
            .with_context(|| format!("PUT alone at concurrency {c}"))?;
            at.put.push(&puts);

            if let Some(nginx) = nginx {
                let (http, b, base) = (client.http().clone(), body.clone(), nginx.base_url.clone());
                let base = format!("{base}/r{run}-c{c}");
                let bound = Bound {
                    duration: plan.duration,
                    max_ops: 1_000_000,
                };
                let puts = closed_loop(c, bound, move |n| {
                    let (http, b, url) = (http.clone(), b.clone(), format!("{base}/{n:08}.bin"));
                    async move {
                        let response = http.put(url).body(b).send().await?;
                        anyhow::ensure!(response.status().is_success(), "nginx answered {}", response.status());
                        Ok(())
                    }
                })
                .await
                .with_context(|| format!("nginx PUT at concurrency {c}"))?;
                at.nginx_put.push(&puts);
            }

            let bound = Bound {
                duration: plan.duration,
                max_ops: 1_000_000,
            };
            let (cl, s) = (client.clone(), slots.clone());
            let gets = closed_loop(c, bound, move |n| {
                let (cl, s) = (cl.clone(), s.clone());
                async move {
                    cl.get_file(&s[n % s.len()].file_id).await?;
                    Ok(())
                }
            })
            .await
            .with_context(|| format!("GET /v1/files/{{id}} at concurrency {c}"))?;
            at.get.push(&gets);
        }
        server.stop().await?;
        std::fs::remove_dir_all(&dir).ok();
        if let Some(nginx) = nginx {
            std::fs::remove_dir_all(&nginx.root).ok();
            std::fs::create_dir_all(&nginx.root).ok();
        }
    }
    Ok(section(deployment.kind, plan, &results, nginx.is_some()))
}

fn section(kind: Kind, plan: &Plan, results: &[AtConcurrency], with_nginx: bool) -> Section {
    let mut s = Section::new(format!("Control plane: {}", kind.label()));
    s.line(format!(
        "Closed loops of {} s each; latencies in ms (the run's p50 and p99; the table gives their median, min and max over the runs). \
         The client runs on the same cores as the server.\n",
        plan.duration.as_secs_f64()
    ));
    let rows = plan
        .concurrency
        .iter()
        .zip(results)
        .map(|(c, r)| {
            let [rate, p50, p99] = r.cycles.cells();
            let [grate, gp50, gp99] = r.get.cells();
            vec![c.to_string(), rate, p50, p99, grate, gp50, gp99]
        })
        .collect();
    s.table(
        &[
            "concurrency",
            "create + PUT 1 KiB + complete, cycles/s",
            "cycle p50",
            "cycle p99",
            "`GET /v1/files/{id}`/s",
            "GET p50",
            "GET p99",
        ],
        rows,
    );
    let rows = plan
        .concurrency
        .iter()
        .zip(results)
        .map(|(c, r)| {
            let [rate, p50, p99] = r.put.cells();
            let mut row = vec![c.to_string(), rate, p50, p99];
            if with_nginx {
                let [nrate, np50, np99] = r.nginx_put.cells();
                row.extend([nrate, np50, np99, ratio(&r.put.rate, &r.nginx_put.rate)]);
            }
            row
        })
        .collect();
    let mut header = vec!["concurrency", "the `PUT` step alone, PUTs/s", "PUT p50", "PUT p99"];
    if with_nginx {
        header.extend([
            "nginx WebDAV `PUT`, same objects, PUTs/s",
            "nginx p50",
            "nginx p99",
            "ratio",
        ]);
    }
    s.table(&header, rows);
    if !with_nginx && kind == Kind::Embedded {
        s.line("- nginx skipped (smoke run).");
    }
    if kind == Kind::Embedded {
        if let Some(i) = plan.concurrency.iter().position(|&c| c == 64) {
            s.line(target_line(
                "≥ 5,000 upload cycles per second embedded at concurrency 64, every object fsync'd before its PUT answers",
                results[i].cycles.rate.median() >= 5000.0,
            ));
        }
        s.line(
            "- every filegate PUT answers after the object's bytes, its etag (an attribute on the same \
             inode) and its directory entry are fsync'd (the directory fsync shared by the PUTs renamed \
             while the previous one ran); nginx's PUT writes and renames without fsync.",
        );
    }
    s
}
