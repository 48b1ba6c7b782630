//! Synthetic inputs for the benchmarks, made with criu-images' own encoder.
