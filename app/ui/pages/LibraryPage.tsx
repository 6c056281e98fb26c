/** Placeholder: the Library page is written next. */
export function LibraryPage() {
  return (
    <section className="panel" aria-labelledby="library-title">
      <h2 id="library-title">Library</h2>
    </section>
  );
}
