"""The environment a run happens in: fingerprint, health, tuning (cpu_env / gpu_env), xdist timing.

Import the modules themselves: importing one small module of this package (as option parsing does)
must not import the tuning machinery.
"""
