"""The eval suite: labeled messages run through the real triage graph, scored on the product's outcomes."""
