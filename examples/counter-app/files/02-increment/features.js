// increment: the big + button adds one per click.
document.getElementById('increment').addEventListener('click', () => {
  count += 1;
  render();
});

// baton:features
