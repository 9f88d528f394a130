"""What the networks are, independent of any runtime: their layer tables
(`architecture`), the shipped weights and their checked hashes (`weights`) and the
safetensors reader (`safetensors_file`).
"""
