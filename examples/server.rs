fn main() {
    let _ = ratecell::Quota::per_second(1);
}
