// `#[tether::test]` adds `#[test]` itself; a second test attribute is an
// error pointing at that attribute.
#[tether::test]
#[test]
async fn plain_test_too() {}

#[tether::test]
#[core::prelude::v1::test]
async fn qualified_test_too() {}

#[tether::test]
#[tether::test]
async fn twice() {}

fn main() {}
