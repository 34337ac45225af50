//! Reading tensors back to the host, asynchronously as WebGPU requires (a synchronous read
//! panics in the browser).

use burn::tensor::{ExecutionError, Tensor};

/// Reading values back from the device failed (e.g. the GPU device was lost).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("reading results back from the device failed: {cause}")]
pub struct ReadError {
    cause: String,
}

impl From<ExecutionError> for ReadError {
    /// Keeps the innermost cause: burn nests "An error happened during execution / Caused
    /// by:" wrappers and a backtrace note around it.
    fn from(error: ExecutionError) -> Self {
        let text = error.to_string();
        let cause = text
            .lines()
            .map(str::trim)
            .rfind(|line| {
                !line.is_empty()
                    && !line.starts_with("Caused by")
                    && !line.starts_with("Backtrace")
                    && !line.starts_with("No backtrace")
            })
            .unwrap_or("unknown error");
        Self {
            cause: cause.to_string(),
        }
    }
}

/// A tensor's values as `f32`, copied at once (`try_to_vec`, never reusing the buffer): a
/// WebGPU read-back lends the mapped staging buffer, which the browser takes back
/// (detaches) if the device is lost later.
pub async fn read_values<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>, ReadError> {
    let data = tensor.into_data_async().await?;
    data.try_cast_as::<f32>()
        .and_then(|data| data.try_to_vec::<f32>())
        .map_err(|e| ReadError {
            cause: format!("{e:?}"),
        })
}

/// Runs a future that needs no waiting (a read-back of CPU tensors), natively and in wasm
/// alike.
#[cfg(test)]
pub fn ready<F: Future>(future: F) -> F::Output {
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut context) {
        std::task::Poll::Ready(output) => output,
        std::task::Poll::Pending => panic!("a CPU read-back should not wait"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    // In the browser (`cargo test --target wasm32-unknown-unknown`) the same tests run
    // under wasm-bindgen-test.
    #[cfg(target_family = "wasm")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn device_errors_keep_their_innermost_cause() {
        let nested = ExecutionError::WithContext {
            reason: "An error happened during execution\nCaused by:\n  the staging buffer could \
                     not be mapped\nBacktrace:\nNo backtrace available"
                .into(),
        };
        assert_eq!(
            ReadError::from(nested).to_string(),
            "reading results back from the device failed: the staging buffer could not be mapped"
        );
    }
}
