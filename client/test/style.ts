// Styles are the build's business; in jsdom an import of one is nothing.
export default {};
