"""Where moto's interpreter behaves unlike AWS, one gap per module (numbered as in README).

1, 2, 6 parse_rewrites; 3 tolerated_failures; 4 result_writer; 5 timestamps; 8 scaled_waits;
9 lambda_invoke; 10 child_histories; 11 iteration_loops. (7, speed, is in ../speed/.)
"""
