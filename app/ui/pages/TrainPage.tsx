/** Placeholder: the Train page is written next. */
export function TrainPage() {
  return (
    <section className="panel" aria-labelledby="train-title">
      <h2 id="train-title">Train</h2>
    </section>
  );
}
