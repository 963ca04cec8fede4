// step-size: the Step drop-down sets how much each click on + adds. Its value is
// read at click time, so there is no second copy of it to keep in sync.
const stepSelect = document.getElementById('step');

function currentStep() {
  return Number(stepSelect.value) || 1;
}

// baton:features
