"""The API's routes, one module per area of the councils' work, each with its ``router``;
``create_app`` includes them in the order of the OpenAPI document."""
