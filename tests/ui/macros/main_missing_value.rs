// Every option takes a value.
#[tether::main(flavor)]
async fn main() {}
