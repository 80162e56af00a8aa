"""Gap 7: speed, not behaviour. Where moto's interpreter spends CPU or memory that the same
result does not need, one patch per module: 7a json_paths, 7b item_selector, 7c closed_jobs,
7d json_copies, 7e s3_clients, 7f backend_lookup, 7g s3_bodies, 7h state_threads, 7i s3_keys. The
workflow tests run through them; bench/engine_overhead.py, fanout_speedup.py and
scale_distributed.py measure them."""
