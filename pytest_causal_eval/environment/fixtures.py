"""Environment fixtures (cpu_env, gpu_env); filled in by the environment work."""
