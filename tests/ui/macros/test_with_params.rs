// Test functions take no parameters: the error points at the parameter list.
#[tether::test]
async fn with_params(port: u16) {
    let _ = port;
}

fn main() {}
