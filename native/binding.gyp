{
  "targets": [
    {
      "target_name": "rarlhf_native",
      "sources": ["src/kernels.c"],
      "cflags": ["-O3", "-march=native", "-ffast-math", "-fno-finite-math-only", "-std=c11"],
      "libraries": ["-lopenblas", "-lm"]
    }
  ]
}
