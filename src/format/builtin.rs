//! The built-in text layouts: Envoy's default and every Istio text format (reference §1, §2.3),
//! then the other products' defaults ([`super::products`]), as format strings compiled by
//! [`super::compile`]. Listed most common first; auto-detection tries them in this order after
//! the layout that matched the previous line, skipping those whose first literal byte differs.

use std::sync::OnceLock;

use super::compile::CompiledFormat;
use super::products::{
    ECS_GRPC, ECS_HTTP, ECS_HTTP2, ECS_TCP, EMISSARY, ENVOY_GATEWAY_TEXT, KUMA_HTTP, KUMA_HTTP_PRE_1_3_1,
    KUMA_TCP,
};
use crate::record::FormatKind;

/// Istio ≥1.9 (1.23+ spells the cluster `%UPSTREAM_CLUSTER_RAW%`; the output is the same shape).
pub const ISTIO_1_9: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/// Envoy's built-in default (Envoy 1.2 → today; Istio 1.0.0–1.0.2).
pub const ENVOY_DEFAULT: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

/// Istio 1.8.
pub const ISTIO_1_8: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/// Istio 1.3–1.7 (mixer status, transport failure reason, route name).
pub const ISTIO_1_3: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% \"%DYNAMIC_METADATA(istio.mixer:status)%\" \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/// Istio 1.2.
pub const ISTIO_1_2: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% \"%DYNAMIC_METADATA(istio.mixer:status)%\" \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%\n";

/// Istio 1.1.
pub const ISTIO_1_1: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% \"%DYNAMIC_METADATA(istio.mixer:status)%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%\n";

/// Istio 1.1 pre-release (commit 355ef7f41a3).
pub const ISTIO_1_1_PRE: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME%\n";

/// Istio 1.0.3–1.0.9 HTTP: no space between path and protocol.
pub const ISTIO_1_0_HTTP: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%%PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%\n";

/// Istio 1.0.3–1.0.9 TCP.
pub const ISTIO_1_0_TCP: &str = "[%START_TIME%] %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS%\n";

/// Every built-in text layout, in detection order.
pub const TEXT_LAYOUTS: [(FormatKind, &str); 18] = [
    (FormatKind::Istio19, ISTIO_1_9),
    (FormatKind::EnvoyDefault, ENVOY_DEFAULT),
    (FormatKind::Istio18, ISTIO_1_8),
    (FormatKind::Istio13, ISTIO_1_3),
    (FormatKind::Istio12, ISTIO_1_2),
    (FormatKind::Istio11, ISTIO_1_1),
    (FormatKind::Istio11Pre, ISTIO_1_1_PRE),
    (FormatKind::Istio10Http, ISTIO_1_0_HTTP),
    (FormatKind::Istio10Tcp, ISTIO_1_0_TCP),
    (FormatKind::KumaHttp, KUMA_HTTP),
    (FormatKind::KumaHttpPre131, KUMA_HTTP_PRE_1_3_1),
    (FormatKind::KumaTcp, KUMA_TCP),
    (FormatKind::EcsHttp, ECS_HTTP),
    (FormatKind::EcsHttp2, ECS_HTTP2),
    (FormatKind::EcsGrpc, ECS_GRPC),
    (FormatKind::EcsTcp, ECS_TCP),
    (FormatKind::Emissary, EMISSARY),
    (FormatKind::EnvoyGatewayText, ENVOY_GATEWAY_TEXT),
];

/// The compiled built-in layouts (compiled once per process).
pub fn text_layouts() -> &'static [CompiledFormat] {
    static COMPILED: OnceLock<Vec<CompiledFormat>> = OnceLock::new();
    COMPILED.get_or_init(|| {
        TEXT_LAYOUTS
            .iter()
            .map(|(kind, src)| CompiledFormat::compile(src, *kind).expect("built-in format compiles"))
            .collect()
    })
}

/// The compiled layout of one kind.
pub fn layout(kind: FormatKind) -> Option<&'static CompiledFormat> {
    text_layouts().iter().find(|f| f.kind() == kind)
}
