// Tests read JSON bodies of many shapes and assert on them field by field; typing each
// response would add noise, not safety. Declared later, this overload wins over `unknown`.
interface Body {
  json(): Promise<any>;
}
interface Response {
  json(): Promise<any>;
}
