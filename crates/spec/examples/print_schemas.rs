//! Prints the generated JSON Schemas: `cargo run -p tcpc-spec --example print_schemas [FILE]`
//! (FILE is e.g. `tenantcontrolplane.schema.json`; without it, all of them).

fn main() {
    let only = std::env::args().nth(1);
    for (name, schema) in tcpc_spec::schemas() {
        if only.as_deref().is_none_or(|o| o == name) {
            println!("// {name}\n{}", serde_json::to_string_pretty(&schema).unwrap());
        }
    }
}
