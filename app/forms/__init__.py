"""Task forms: validation of submitted data against the JSON Schema forms in ``bpmn/forms/``."""
