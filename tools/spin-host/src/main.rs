//! spin-host: test tooling that serves a Spin HTTP component (spin-sdk 7, WASI 0.3) the way
//! `spin up` would, for the end-to-end suite on machines without the Spin CLI.
//!
//!     spin-host --listen 127.0.0.1:8787 [--kv-json FILE] [--var name=value]... COMPONENT.wasm
//!
//! It implements, in memory: `spin:key-value/key-value@3.0.0` (only the `default` store,
//! seeded from a JSON object `{key: value}`), `spin:variables/variables@3.0.0` (from
//! `--var`), plus the WASI 0.2 std imports and WASI 0.3 `wasi:http` from wasmtime.
//!
//! Every request gets a fresh store and instance (pre-linked once), so nothing leaks between
//! requests but the key-value map, which is shared like a real store. The request body is
//! read in full before the call and the response body in full after it: the component's
//! responses are small, and this keeps the HTTP side trivially correct (all headers,
//! including repeated `Set-Cookie`, are passed through as they are).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use wasmtime::component::{Accessor, Component, HasData, Linker, Resource, ResourceTable};
use wasmtime::error::Context as _;
use wasmtime::{format_err, Config, Engine, Result, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p3::bindings::ServicePre;
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// Spin's key-value interface, as spin-sdk 7 imports it. `get-keys` is left out: it is the
/// only function with streams, and a component imports only the functions it uses.
mod kv {
    wasmtime::component::bindgen!({
        inline: "
            package spin:key-value@3.0.0;

            interface key-value {
                resource store {
                    open: static async func(label: string) -> result<store, error>;
                    get: async func(key: string) -> result<option<list<u8>>, error>;
                    set: async func(key: string, value: list<u8>) -> result<_, error>;
                    delete: async func(key: string) -> result<_, error>;
                    exists: async func(key: string) -> result<bool, error>;
                    get-keys: async func() -> tuple<stream<string>, future<result<_, error>>>;
                }

                variant error {
                    store-table-full,
                    no-such-store,
                    access-denied,
                    other(string),
                }
            }

            world host {
                import key-value;
            }
        ",
        imports: { default: trappable },
        with: { "spin:key-value/key-value.store": super::OpenStore },
    });
}

/// Spin's variables interface (`spin:variables/variables@3.0.0`).
mod variables {
    wasmtime::component::bindgen!({
        inline: "
            package spin:variables@3.0.0;

            interface variables {
                get: async func(name: string) -> result<string, error>;

                variant error {
                    invalid-name(string),
                    undefined(string),
                    provider(string),
                    other(string),
                }
            }

            world host {
                import variables;
            }
        ",
        imports: { default: trappable },
    });
}

use kv::spin::key_value::key_value as spin_kv;
use variables::spin::variables::variables as spin_vars;

/// What a `store` resource stands for: the one shared in-memory map.
pub struct OpenStore;

type KvMap = Arc<Mutex<HashMap<String, Vec<u8>>>>;

/// Per-request store data.
struct State {
    table: ResourceTable,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    kv: KvMap,
    vars: Arc<HashMap<String, String>>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for State {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: Default::default() }
    }
}

/// `HasData` marker for the Spin interfaces: their host functions see `&mut State`.
struct Spin;

impl HasData for Spin {
    type Data<'a> = &'a mut State;
}

impl spin_kv::Host for State {}

impl spin_kv::HostStore for State {
    fn drop(&mut self, store: Resource<OpenStore>) -> Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

/// Runs `f` on the shared map of the store behind `store`.
fn with_map<T, R>(
    accessor: &Accessor<T, Spin>,
    store: &Resource<OpenStore>,
    f: impl FnOnce(&mut HashMap<String, Vec<u8>>) -> R,
) -> Result<R> {
    accessor.with(|mut access| {
        let state = access.get();
        state.table.get(store)?;
        let mut map = state.kv.lock().map_err(|_| format_err!("key-value map poisoned"))?;
        Ok(f(&mut map))
    })
}

impl<T> spin_kv::HostStoreWithStore<T> for Spin {
    async fn open(accessor: &Accessor<T, Self>, label: String) -> Result<Result<Resource<OpenStore>, spin_kv::Error>> {
        if label != "default" {
            return Ok(Err(spin_kv::Error::NoSuchStore));
        }
        let store = accessor.with(|mut access| access.get().table.push(OpenStore))?;
        Ok(Ok(store))
    }

    async fn get(accessor: &Accessor<T, Self>, store: Resource<OpenStore>, key: String) -> Result<Result<Option<Vec<u8>>, spin_kv::Error>> {
        with_map(accessor, &store, |map| Ok(map.get(&key).cloned()))
    }

    async fn set(accessor: &Accessor<T, Self>, store: Resource<OpenStore>, key: String, value: Vec<u8>) -> Result<Result<(), spin_kv::Error>> {
        with_map(accessor, &store, |map| {
            map.insert(key, value);
            Ok(())
        })
    }

    async fn delete(accessor: &Accessor<T, Self>, store: Resource<OpenStore>, key: String) -> Result<Result<(), spin_kv::Error>> {
        with_map(accessor, &store, |map| {
            map.remove(&key);
            Ok(())
        })
    }

    async fn exists(accessor: &Accessor<T, Self>, store: Resource<OpenStore>, key: String) -> Result<Result<bool, spin_kv::Error>> {
        with_map(accessor, &store, |map| Ok(map.contains_key(&key)))
    }

    async fn get_keys(
        accessor: &Accessor<T, Self>,
        store: Resource<OpenStore>,
    ) -> Result<(wasmtime::component::StreamReader<String>, wasmtime::component::FutureReader<Result<(), spin_kv::Error>>)> {
        let keys: Vec<String> = with_map(accessor, &store, |map| map.keys().cloned().collect())?;
        accessor.with(|mut access| {
            let stream = wasmtime::component::StreamReader::new(&mut access, keys)?;
            let done = wasmtime::component::FutureReader::new(&mut access, async { Ok::<_, wasmtime::Error>(Ok::<(), spin_kv::Error>(())) })?;
            Ok((stream, done))
        })
    }
}

impl spin_vars::Host for State {}

impl<T> spin_vars::HostWithStore<T> for Spin {
    async fn get(accessor: &Accessor<T, Self>, name: String) -> Result<Result<String, spin_vars::Error>> {
        let value = accessor.with(|mut access| access.get().vars.get(&name).cloned());
        Ok(value.ok_or(spin_vars::Error::Undefined(format!("no variable named {name:?}"))))
    }
}

/// Everything a request needs, shared by all connections.
struct Host {
    engine: Engine,
    pre: ServicePre<State>,
    kv: KvMap,
    vars: Arc<HashMap<String, String>>,
    listen: SocketAddr,
}

impl Host {
    async fn serve(&self, request: hyper::Request<Incoming>) -> hyper::Response<Full<Bytes>> {
        let (method, path) = (request.method().clone(), request.uri().clone());
        match self.call(request).await {
            Ok(response) => {
                eprintln!("{method} {path} -> {}", response.status());
                response
            }
            Err(err) => {
                eprintln!("{method} {path} -> 500: {err:?}");
                let mut response = hyper::Response::new(Full::new(Bytes::from(format!("spin-host: {err:#}\n"))));
                *response.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        }
    }

    async fn call(&self, request: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>> {
        // As Spin does: the component sees an absolute URI (scheme and authority from the
        // Host header), since wasi:http strips `Host` from the headers it hands over.
        let (mut parts, body) = request.into_parts();
        let body = body.collect().await.context("reading the request body")?.to_bytes();
        let authority = match parts.headers.get(http::header::HOST).and_then(|h| h.to_str().ok()) {
            Some(host) => host.to_string(),
            None => self.listen.to_string(),
        };
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = format!("http://{authority}{path}").parse::<http::Uri>().context("request URI")?;
        let request = http::Request::from_parts(parts, Full::new(body));

        let state = State {
            table: ResourceTable::new(),
            wasi: WasiCtxBuilder::new().inherit_stdout().inherit_stderr().build(),
            http: WasiHttpCtx::new(),
            kv: self.kv.clone(),
            vars: self.vars.clone(),
        };
        let mut store = Store::new(&self.engine, state);
        let service = self.pre.instantiate_async(&mut store).await.context("instantiating the component")?;
        let (request, _io) = wasmtime_wasi_http::p3::Request::from_http(wasmtime_wasi_http::default_hooks(), request);
        store
            .run_concurrent(async |store| {
                let response = match service.handle(store, request).await? {
                    Ok(response) => response,
                    Err(code) => return Err(format_err!("the component returned error-code {code:?}")),
                };
                let response = store.with(|store| response.into_http(store, async { Ok(()) }))?;
                let (parts, body) = response.into_parts();
                let body = body.collect().await.map_err(|e| format_err!("response body: {e:?}"))?.to_bytes();
                Ok(hyper::Response::from_parts(parts, Full::new(body)))
            })
            .await?
    }
}

struct Args {
    listen: SocketAddr,
    kv_json: Option<String>,
    vars: HashMap<String, String>,
    component: String,
}

const USAGE: &str = "usage: spin-host [--listen 127.0.0.1:3000] [--kv-json FILE] [--var name=value]... COMPONENT.wasm";

fn parse_args() -> Result<Args> {
    let mut args = std::env::args().skip(1);
    let (mut listen, mut kv_json, mut vars, mut component) = ("127.0.0.1:3000".to_string(), None, HashMap::new(), None);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format_err!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--listen" => listen = value()?,
            "--kv-json" => kv_json = Some(value()?),
            "--var" => {
                let pair = value()?;
                let (name, value) = pair.split_once('=').ok_or_else(|| format_err!("--var wants name=value, got {pair:?}"))?;
                vars.insert(name.to_string(), value.to_string());
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            _ if arg.starts_with('-') || component.is_some() => return Err(format_err!("unexpected argument {arg:?}\n{USAGE}")),
            _ => component = Some(arg),
        }
    }
    let component = component.ok_or_else(|| format_err!("no component given\n{USAGE}"))?;
    Ok(Args { listen: listen.parse::<SocketAddr>().context("--listen")?, kv_json, vars, component })
}

/// Reads `{key: value}`; string values are stored as their UTF-8 bytes, others as JSON text.
fn read_kv(path: &str) -> Result<HashMap<String, Vec<u8>>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
    let object = json.as_object().ok_or_else(|| format_err!("{path}: expected a JSON object {{key: value}}"))?;
    Ok(object
        .iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(s) => (key.clone(), s.clone().into_bytes()),
            other => (key.clone(), other.to_string().into_bytes()),
        })
        .collect())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    let kv = match &args.kv_json {
        Some(path) => read_kv(path)?,
        None => HashMap::new(),
    };

    let mut config = Config::new();
    config.wasm_component_model_async(true);
    let engine = Engine::new(&config)?;
    let component = Component::from_file(&engine, &args.component).with_context(|| format!("loading {}", args.component))?;
    let mut linker = Linker::<State>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?; // Rust std on wasm32-wasip2
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
    spin_kv::add_to_linker::<State, Spin>(&mut linker, |state| state)?;
    spin_vars::add_to_linker::<State, Spin>(&mut linker, |state| state)?;
    let pre = ServicePre::new(linker.instantiate_pre(&component)?)?;

    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("binding {}", args.listen))?;
    eprintln!("spin-host: serving {} on http://{} ({} key-value entries, {} variables)", args.component, args.listen, kv.len(), args.vars.len());
    let host = Arc::new(Host { engine, pre, kv: Arc::new(Mutex::new(kv)), vars: Arc::new(args.vars), listen: args.listen });
    loop {
        let (stream, _) = listener.accept().await?;
        let host = host.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let host = host.clone();
                async move { Ok::<_, Infallible>(host.serve(request).await) }
            });
            if let Err(err) = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                eprintln!("spin-host: connection: {err}");
            }
        });
    }
}
